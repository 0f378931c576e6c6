using ArchLab.Kernels.Gpu;
using ArchLab.Kernels.Reference;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ArchLab.Tests.Kernels.Gpu;

/// <summary>The ILGPU gated delta rule (on ILGPU's CPU accelerator) equals <see cref="GatedDeltaRuleReference.Recurrent"/>
/// in o, the final state and the gradient of every input including the initial state, in float64 and float32. Inputs in
/// Gated DeltaNet's ranges: q, k unit vectors per head, g ≤ 0, β ∈ (0, 1).</summary>
public class IlgpuGatedDeltaRuleTests(ITestOutputHelper output)
{
    static readonly string[] Names = ["q", "k", "v", "g", "beta", "S0"];

    static Tensor[] Inputs(ScalarType dtype, int batch, int heads, int time, int keyDim, int valueDim, long seed) =>
        RecurrenceComparison.Leaves(seed, g =>
        [
            nn.functional.normalize(randn([batch, heads, time, keyDim], dtype, generator: g), dim: -1),
            nn.functional.normalize(randn([batch, heads, time, keyDim], dtype, generator: g), dim: -1),
            randn([batch, heads, time, valueDim], dtype, generator: g),
            -0.5 * nn.functional.softplus(randn([batch, heads, time], dtype, generator: g)),
            sigmoid(randn([batch, heads, time], dtype, generator: g)),
            0.5 * randn([batch, heads, keyDim, valueDim], dtype, generator: g),
        ]);

    [Theory]
    [InlineData(ScalarType.Float64, 1e-12, 2, 2, 7, 4, 3)]
    [InlineData(ScalarType.Float64, 1e-12, 1, 3, 5, 3, 5)]
    [InlineData(ScalarType.Float32, 2e-6, 2, 2, 6, 4, 3)]
    public void MatchesReference(ScalarType dtype, double tolerance, int batch, int heads, int time, int keyDim, int valueDim)
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(dtype, batch, heads, time, keyDim, valueDim, seed: 31 + time);
        RecurrenceComparison.AssertClose(output, inputs, Names,
            x => GatedDeltaRuleReference.Recurrent(x[0], x[1], x[2], x[3], x[4], x[5]),
            x => IlgpuGatedDeltaRuleFunction.Forward(x[0], x[1], x[2], x[3], x[4], x[5], IlgpuTestAccelerator.Cpu),
            tolerance);
    }

    /// <summary>A null initial state is zeros, and a bad shape is a one-line ArgumentException.</summary>
    [Fact]
    public void NullStateIsZerosAndShapesAreChecked()
    {
        using var scope = NewDisposeScope();
        var x = Inputs(ScalarType.Float64, 1, 1, 3, 2, 3, seed: 5);
        var scans = IlgpuTestAccelerator.Cpu;
        RecurrenceComparison.AssertNullStateIsZeros(x[5], s0 => scans.GatedDeltaRuleForward(x[0], x[1], x[2], x[3], x[4], s0));
        RecurrenceComparison.AssertShapeError("g has shape",
            () => scans.GatedDeltaRuleForward(x[0], x[1], x[2], x[3].narrow(2, 0, 2), x[4]));
    }
}
