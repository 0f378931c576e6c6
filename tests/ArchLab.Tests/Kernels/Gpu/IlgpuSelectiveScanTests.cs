using ArchLab.Kernels.Gpu;
using ArchLab.Kernels.Reference;
using ArchLab.Tests.TestSupport;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ArchLab.Tests.Kernels.Gpu;

/// <summary>The ILGPU selective scan (run on ILGPU's CPU accelerator) equals the tensor-op reference: y, h_T and every
/// input's gradient through the autograd function, in float32 and float64, with and without an initial state.</summary>
public class IlgpuSelectiveScanTests(ITestOutputHelper output)
{
    static readonly string[] Names = ["x", "delta", "A", "B", "C", "h0"];

    static Tensor[] Inputs(ScalarType dtype, bool withH0, int batch, int time, int inner, int state, long seed) =>
        SelectiveScanInputs.Random(dtype, withH0, batch, time, inner, state, seed);

    [Theory]
    [InlineData(ScalarType.Float32, 2e-5, false, 2, 7, 4, 3)]
    [InlineData(ScalarType.Float32, 2e-5, true, 2, 11, 5, 4)]
    [InlineData(ScalarType.Float64, 1e-11, false, 2, 9, 6, 3)]
    [InlineData(ScalarType.Float64, 1e-11, true, 1, 16, 8, 4)]
    public void MatchesReference(ScalarType dtype, double tolerance, bool withH0, int batch, int time, int inner, int state)
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(dtype, withH0, batch, time, inner, state, seed: 5 + time);
        static Tensor? H0(Tensor[] x) => x.Length > 5 ? x[5] : null;
        RecurrenceComparison.AssertClose(output, inputs, Names,
            x => SelectiveScanReference.Forward(x[0], x[1], x[2], x[3], x[4], H0(x)),
            x => IlgpuSelectiveScanFunction.Forward(x[0], x[1], x[2], x[3], x[4], H0(x), IlgpuTestAccelerator.Cpu),
            tolerance);
    }

    /// <summary>The raw API: a null dh_T means zeros, and a bad shape is a one-line ArgumentException.</summary>
    [Fact]
    public void BackwardWithoutStateGradientAndShapeErrors()
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(ScalarType.Float64, withH0: true, batch: 2, time: 5, inner: 3, state: 2, seed: 1);
        var scans = IlgpuTestAccelerator.Cpu;
        manual_seed(4);
        var dy = randn(2, 5, 3, dtype: ScalarType.Float64);
        var noState = scans.SelectiveScanBackward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5], dy, null);
        var zeroState = scans.SelectiveScanBackward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5], dy,
                                                    zeros(2, 3, 2, dtype: ScalarType.Float64));
        TensorAssert.Close(zeroState.DA, noState.DA, 0, "dA");
        TensorAssert.Close(zeroState.DH0, noState.DH0, 0, "dh0");
        RecurrenceComparison.AssertShapeError("B has shape", () =>
            scans.SelectiveScanForward(inputs[0], inputs[1], inputs[2], inputs[3].narrow(1, 0, 4), inputs[4], inputs[5]));
    }
}
