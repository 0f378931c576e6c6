using System.Reflection;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace ArchLab.Kernels.Gpu;

/// <summary>One kernel compiled to PTX: its method, element type (f32 | f64), the <c>.entry</c> name and the PTX text.</summary>
public sealed record PtxKernel(string Kernel, string ElementType, string EntryName, string Ptx)
{
    /// <summary>File name for this kernel's PTX, e.g. <c>WkvForward.f32.sm_80.ptx</c>.</summary>
    public string FileName(string arch) => $"{Kernel}.{ElementType}.{arch}.ptx";
}

/// <summary>
/// Compiles every <see cref="IlgpuScanKernels{T}"/> kernel to NVIDIA PTX with ILGPU's PTX backend. Needs no GPU and no CUDA
/// installation, so CI proves that every GPU kernel still compiles (ILGPU rejects, at this step, code it cannot run on a
/// GPU: managed allocations, virtual calls, unsupported intrinsics).
/// <para>Targets: <c>sm_80</c> (A100) with PTX ISA 7.0 and <c>sm_90</c> (H100) with PTX ISA 7.8. ILGPU 1.5.3 writes
/// <c>.target sm_80</c> for every architecture newer than sm_80 (it emits no sm_90-only instructions); the driver JIT-compiles
/// such PTX for the GPU it runs on, and the <c>.version</c> line differs (7.8 for sm_90). <see cref="TargetLine"/> gives
/// the exact line expected.</para>
/// </summary>
public static class PtxCompiler
{
    /// <summary>The kernel methods of <see cref="IlgpuScanKernels{T}"/>, in a fixed order.</summary>
    public static readonly IReadOnlyList<string> KernelNames =
        ["SelectiveScanForward", "SelectiveScanBackward", "WkvForward", "WkvBackward", "SsdForward", "SsdBackward",
         "Wkv7Forward", "Wkv7Backward", "GatedDeltaRuleForward", "GatedDeltaRuleBackward", "SumMiddle"];

    /// <summary>The architectures this compiler accepts.</summary>
    public static readonly IReadOnlyList<string> Architectures = ["sm_80", "sm_90"];

    /// <summary>ILGPU's architecture and PTX instruction set for an architecture name (sm_80 | sm_90).</summary>
    public static (CudaArchitecture Architecture, CudaInstructionSet InstructionSet) Target(string arch) =>
        arch.Trim().ToLowerInvariant() switch
        {
            "sm_80" => (CudaArchitecture.SM_80, CudaInstructionSet.ISA_70),
            "sm_90" => (CudaArchitecture.SM_90, CudaInstructionSet.ISA_78),
            _ => throw new ArgumentException($"unknown CUDA architecture '{arch}' ({string.Join(" | ", Architectures)})"),
        };

    /// <summary>The <c>.version</c> line ILGPU writes for <paramref name="arch"/>.</summary>
    public static string VersionLine(string arch) => $".version {Target(arch).InstructionSet}";

    /// <summary>The <c>.target</c> line ILGPU 1.5.3 writes for <paramref name="arch"/> (sm_80 for sm_90, see the class notes).</summary>
    public static string TargetLine(string arch)
    {
        var target = Target(arch).Architecture;
        return target >= CudaArchitecture.SM_80 ? ".target sm_80" : $".target {target.ToString().ToLowerInvariant()}";
    }

    /// <summary>Every kernel in float32 and float64, compiled for <paramref name="arch"/>.</summary>
    public static IReadOnlyList<PtxKernel> CompileAll(string arch)
    {
        var (architecture, instructionSet) = Target(arch);
        using var context = Context.Create(builder => builder.CPU().EnableAlgorithms());
        using var backend = new PTXBackend(context, architecture, instructionSet, null!); // no NVVM library: ILGPU emits PTX itself
        var kernels = new List<PtxKernel>();
        foreach (var (type, elementType) in new[] { (typeof(IlgpuScanKernels<float>), "f32"), (typeof(IlgpuScanKernels<double>), "f64") })
        {
            foreach (var name in KernelNames)
            {
                var method = type.GetMethod(name, BindingFlags.Public | BindingFlags.Static)
                             ?? throw new InvalidOperationException($"no kernel method {type.Name}.{name}");
                var entry = EntryPointDescription.FromImplicitlyGroupedKernel(method);
                var specialization = KernelSpecialization.Empty;
                var compiled = (PTXCompiledKernel)backend.Compile(entry, specialization);
                string ptx = compiled.PTXAssembly;
                var match = Regex.Match(ptx, @"\.entry\s+([A-Za-z0-9_$]+)");
                if (!match.Success) throw new InvalidOperationException($"PTX of {name} ({elementType}) has no .entry");
                kernels.Add(new PtxKernel(name, elementType, match.Groups[1].Value, ptx));
            }
        }
        return kernels;
    }
}
