using ArchLab.Kernels.Gpu;
using ArchLab.Kernels.Reference;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Kernels.Gpu;

/// <summary>The ILGPU selective scan (run on ILGPU's CPU accelerator) equals the tensor-op reference: y, h_T and every
/// input's gradient through the autograd function, in float32 and float64, with and without an initial state.</summary>
public class IlgpuSelectiveScanTests
{
    static readonly string[] Names = ["x", "delta", "A", "B", "C", "h0"];

    static Tensor[] Inputs(ScalarType dtype, bool withH0, int batch, int time, int inner, int state, long seed) =>
        SelectiveScanInputs.Random(dtype, withH0, batch, time, inner, state, seed);

    /// <summary>y, h_T and the gradients of Σ y·wy + Σ h_T·wh with respect to every input.</summary>
    static (Tensor Y, Tensor Last, Tensor[] Grads) Run(Tensor[] inputs, bool ilgpu)
    {
        foreach (var t in inputs) t.grad?.zero_();
        Tensor? h0 = inputs.Length > 5 ? inputs[5] : null;
        var (y, last) = ilgpu
            ? IlgpuSelectiveScanFunction.Forward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], h0, IlgpuTestAccelerator.Cpu)
            : SelectiveScanReference.Forward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], h0);
        using var weights = new Generator(99); // local: other tests share the global generator in parallel
        var wy = randn(y.shape, dtype: y.dtype, generator: weights);
        var wh = randn(last.shape, dtype: last.dtype, generator: weights);
        ((y * wy).sum() + (last * wh).sum()).backward();
        return (y.detach(), last.detach(), inputs.Select(t => t.grad!.clone()).ToArray());
    }

    [Theory]
    [InlineData(ScalarType.Float32, 2e-5, false, 2, 7, 4, 3)]
    [InlineData(ScalarType.Float32, 2e-5, true, 2, 11, 5, 4)]
    [InlineData(ScalarType.Float64, 1e-11, false, 2, 9, 6, 3)]
    [InlineData(ScalarType.Float64, 1e-11, true, 1, 16, 8, 4)]
    public void MatchesReference(ScalarType dtype, double tolerance, bool withH0, int batch, int time, int inner, int state)
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(dtype, withH0, batch, time, inner, state, seed: 5 + time);
        var reference = Run(inputs, ilgpu: false);
        var gpu = Run(inputs, ilgpu: true);
        Assert.Equal(dtype, gpu.Y.dtype);
        TensorAssert.Close(reference.Y, gpu.Y, IlgpuTestAccelerator.Tolerance(reference.Y, tolerance), "y");
        TensorAssert.Close(reference.Last, gpu.Last, IlgpuTestAccelerator.Tolerance(reference.Last, tolerance), "h_T");
        for (int i = 0; i < inputs.Length; i++)
        {
            Assert.True(reference.Grads[i].abs().max().to(ScalarType.Float64).item<double>() > 1e-3, $"d{Names[i]} is trivially small");
            TensorAssert.Close(reference.Grads[i], gpu.Grads[i], IlgpuTestAccelerator.Tolerance(reference.Grads[i], tolerance), "d" + Names[i]);
        }
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
        var ex = Assert.Throws<ArgumentException>(() =>
            scans.SelectiveScanForward(inputs[0], inputs[1], inputs[2], inputs[3].narrow(1, 0, 4), inputs[4], inputs[5]));
        Assert.Contains("B has shape", ex.Message);
    }
}
