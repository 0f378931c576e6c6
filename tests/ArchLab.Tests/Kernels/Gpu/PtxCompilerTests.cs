using ArchLab.Kernels.Gpu;

namespace ArchLab.Tests.Kernels.Gpu;

/// <summary>Every GPU kernel compiles to PTX for sm_80 and sm_90 without a GPU, so a kernel ILGPU cannot lower fails CI.</summary>
public class PtxCompilerTests
{
    [Theory]
    [InlineData("sm_80", ".version 7.0")]
    [InlineData("sm_90", ".version 7.8")]
    public void EveryKernelCompilesToPtx(string arch, string versionLine)
    {
        var kernels = PtxCompiler.CompileAll(arch);
        Assert.Equal(22, kernels.Count);                    // 11 kernels (4 recurrences × forward/backward + SumMiddle) × f32/f64
        foreach (var elementType in new[] { "f32", "f64" })
            foreach (var name in PtxCompiler.KernelNames)
            {
                var kernel = Assert.Single(kernels, k => k.Kernel == name && k.ElementType == elementType);
                var lines = kernel.Ptx.Split('\n').Select(l => l.Trim()).ToArray();
                Assert.Contains(versionLine, lines);
                Assert.Equal(versionLine, PtxCompiler.VersionLine(arch));
                Assert.Contains(PtxCompiler.TargetLine(arch), lines);
                Assert.Contains(".address_size 64", lines);
                Assert.Contains(name, kernel.EntryName);
                Assert.Contains($".visible .entry {kernel.EntryName}(", kernel.Ptx);
                Assert.Contains("ret;", kernel.Ptx);
                // float kernels use f32 registers, double kernels f64 (the generic kernel really was specialised)
                Assert.Contains(elementType == "f32" ? ".f32" : ".f64", kernel.Ptx);
            }
        // Kernels that take exponentials contain the exp lowering (ex2 for float32).
        foreach (var name in new[] { "WkvForward", "SsdForward", "SsdBackward", "Wkv7Forward", "Wkv7Backward",
                                     "GatedDeltaRuleForward", "GatedDeltaRuleBackward" })
            Assert.Contains("ex2.approx", kernels.Single(k => k.Kernel == name && k.ElementType == "f32").Ptx);
    }

    /// <summary>The compiler's list is every kernel of <see cref="IlgpuScanKernels{T}"/> (a public static method whose
    /// first parameter is the thread index), so a new kernel cannot be left out of the PTX check.</summary>
    [Fact]
    public void KernelNamesListEveryKernelMethod()
    {
        var methods = typeof(IlgpuScanKernels<float>).GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Where(m => m.GetParameters() is [{ ParameterType.Name: "Index1D" }, ..])
            .Select(m => m.Name);
        Assert.Equal(methods.Order(), PtxCompiler.KernelNames.Order());
    }

    [Fact]
    public void UnknownArchitectureIsAnArgumentError()
    {
        var ex = Assert.Throws<ArgumentException>(() => PtxCompiler.CompileAll("sm_75x"));
        Assert.Contains("sm_75x", ex.Message);
    }
}
