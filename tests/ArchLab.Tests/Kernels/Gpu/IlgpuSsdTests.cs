using ArchLab.Kernels.Gpu;
using ArchLab.Kernels.Reference;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ArchLab.Tests.Kernels.Gpu;

/// <summary>The ILGPU Mamba-2 SSD scan (on ILGPU's CPU accelerator) equals <see cref="SsdReference.Sequential"/> in y, the
/// final state and the gradient of every input including the initial state, in float64 and float32.</summary>
public class IlgpuSsdTests(ITestOutputHelper output)
{
    static readonly string[] Names = ["x", "dt", "A", "B", "C", "S0"];

    static Tensor[] Inputs(ScalarType dtype, int batch, int time, int heads, int headDim, int state, long seed) =>
        RecurrenceComparison.Leaves(seed, g =>
        [
            randn([batch, time, heads, headDim], dtype, generator: g),
            nn.functional.softplus(randn([batch, time, heads], dtype, generator: g)),
            -exp(0.5 * randn([heads], dtype, generator: g)),
            randn([batch, time, heads, state], dtype, generator: g),
            randn([batch, time, heads, state], dtype, generator: g),
            0.5 * randn([batch, heads, headDim, state], dtype, generator: g),
        ]);

    [Theory]
    [InlineData(ScalarType.Float64, 1e-12, 2, 7, 2, 3, 4)]
    [InlineData(ScalarType.Float64, 1e-12, 1, 5, 3, 2, 5)]
    [InlineData(ScalarType.Float32, 2e-6, 2, 6, 2, 3, 4)]
    public void MatchesReference(ScalarType dtype, double tolerance, int batch, int time, int heads, int headDim, int state)
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(dtype, batch, time, heads, headDim, state, seed: 11 + time);
        RecurrenceComparison.AssertClose(output, inputs, Names,
            x => SsdReference.Sequential(x[0], x[1], x[2], x[3], x[4], x[5]),
            x => IlgpuSsdFunction.Forward(x[0], x[1], x[2], x[3], x[4], x[5], IlgpuTestAccelerator.Cpu),
            tolerance);
    }

    /// <summary>A null initial state is zeros, and a bad shape is a one-line ArgumentException.</summary>
    [Fact]
    public void NullStateIsZerosAndShapesAreChecked()
    {
        using var scope = NewDisposeScope();
        var x = Inputs(ScalarType.Float64, 1, 3, 2, 2, 3, seed: 3);
        var scans = IlgpuTestAccelerator.Cpu;
        RecurrenceComparison.AssertNullStateIsZeros(x[5], s0 => scans.SsdForward(x[0], x[1], x[2], x[3], x[4], s0));
        RecurrenceComparison.AssertShapeError("B has shape", () => scans.SsdForward(x[0], x[1], x[2], x[3].narrow(1, 0, 2), x[4]));
    }
}
