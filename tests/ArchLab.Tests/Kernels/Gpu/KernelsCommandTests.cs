using ArchLab.Kernels.Gpu;
using ArchLab.Tests.TestSupport;

namespace ArchLab.Tests.Kernels.Gpu;

/// <summary><c>archlab kernels ptx</c> writes one PTX file per kernel and element type; a bad --arch exits 2.</summary>
[Trait("Category", Category.Cli)]
public class KernelsCommandTests
{
    [Fact]
    public void PtxWritesEveryKernel()
    {
        var dir = Directory.CreateTempSubdirectory("archlab-ptx-").FullName;
        try
        {
            var result = ArchLabCli.Run("kernels", "ptx", "--arch", "sm_90", "--out", dir);
            Assert.True(result.ExitCode == 0, result.Stderr);
            var files = Directory.GetFiles(dir, "*.ptx").Select(Path.GetFileName).Order().ToArray();
            Assert.Equal(PtxCompiler.KernelNames.Count * 2, files.Length);
            foreach (var name in PtxCompiler.KernelNames)
            {
                var text = File.ReadAllText(Path.Combine(dir, $"{name}.f32.sm_90.ptx"));
                Assert.Contains(".version 7.8", text);
                Assert.Contains(".entry ", text);
                Assert.Contains($"{name}.f64.sm_90.ptx", files);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void UnknownArchitectureExitsWithUsageError()
    {
        var result = ArchLabCli.Run("kernels", "ptx", "--arch", "sm_61", "--out", Path.GetTempPath());
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("sm_61", result.Stderr);
    }
}
