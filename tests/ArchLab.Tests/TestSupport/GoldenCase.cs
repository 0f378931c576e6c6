using ArchLab.Checkpoints;
using static TorchSharp.torch;

namespace ArchLab.Tests.TestSupport;

/// <summary>A case folder copied from the official implementations' golden data (see Golden/README in ../shared).</summary>
public sealed class GoldenCase
{
    public string Dir { get; }

    public GoldenCase(string arch, string name) => Dir = Path.Combine(AppContext.BaseDirectory, "Golden", arch, name);

    public SafetensorsFile ReadIo() => Safetensors.Read(Path.Combine(Dir, "io.safetensors"));
}

public static class TensorAssert
{
    public static void Close(Tensor expected, Tensor actual, double atol, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        double diff = (expected.to(ScalarType.Float64) - actual.to(ScalarType.Float64)).abs().max().item<double>();
        Assert.True(diff <= atol, $"{what}: max |diff| = {diff:E3} > {atol:E1}");
    }

    public static double MaxDiff(Tensor a, Tensor b) =>
        (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();
}
