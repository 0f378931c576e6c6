using ArchLab.Kernels.Gpu;
using ArchLab.Kernels.Reference;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ArchLab.Tests.Kernels.Gpu;

/// <summary>The ILGPU RWKV-7 WKV (on ILGPU's CPU accelerator) equals <see cref="Wkv7Reference.Recurrent"/> in y, the
/// final state and the gradient of every input including the initial state, in float64 and float32. Inputs in RWKV-7's
/// ranges: log w ∈ (−0.61, 0) (its soft clamp), a = −κ̂ and b = κ̂ ⊙ iclr with κ̂ a unit vector per head.</summary>
public class IlgpuWkv7Tests(ITestOutputHelper output)
{
    static readonly string[] Names = ["r", "logW", "k", "v", "a", "b", "S0"];

    static Tensor[] Inputs(ScalarType dtype, int batch, int time, int heads, int n, long seed) =>
        RecurrenceComparison.Leaves(seed, g =>
        {
            long[] shape = [batch, time, heads, n];
            var kappa = nn.functional.normalize(randn(shape, dtype, generator: g), dim: -1);
            return
            [
                randn(shape, dtype, generator: g),
                -0.606531 * sigmoid(randn(shape, dtype, generator: g)),
                randn(shape, dtype, generator: g),
                randn(shape, dtype, generator: g),
                -kappa,
                kappa * rand(shape, dtype, generator: g),
                0.5 * randn([batch, heads, n, n], dtype, generator: g),
            ];
        });

    [Theory]
    [InlineData(ScalarType.Float64, 1e-12, 2, 6, 2, 4)]
    [InlineData(ScalarType.Float64, 1e-12, 1, 9, 1, 5)]
    [InlineData(ScalarType.Float32, 2e-6, 2, 5, 2, 4)]
    public void MatchesReference(ScalarType dtype, double tolerance, int batch, int time, int heads, int n)
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(dtype, batch, time, heads, n, seed: 21 + time);
        RecurrenceComparison.AssertClose(output, inputs, Names,
            x => Wkv7Reference.Recurrent(x[0], x[1], x[2], x[3], x[4], x[5], x[6]),
            x => IlgpuWkv7Function.Forward(x[0], x[1], x[2], x[3], x[4], x[5], x[6], IlgpuTestAccelerator.Cpu),
            tolerance);
    }

    /// <summary>A null initial state is zeros, and a bad shape is a one-line ArgumentException.</summary>
    [Fact]
    public void NullStateIsZerosAndShapesAreChecked()
    {
        using var scope = NewDisposeScope();
        var x = Inputs(ScalarType.Float64, 1, 3, 1, 3, seed: 4);
        var scans = IlgpuTestAccelerator.Cpu;
        RecurrenceComparison.AssertNullStateIsZeros(x[6], s0 => scans.Wkv7Forward(x[0], x[1], x[2], x[3], x[4], x[5], s0));
        RecurrenceComparison.AssertShapeError("k has shape",
            () => scans.Wkv7Forward(x[0], x[1], x[2].narrow(1, 0, 2), x[3], x[4], x[5]));
    }
}
