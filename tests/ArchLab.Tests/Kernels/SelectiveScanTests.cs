using System.Diagnostics;
using ArchLab.Kernels;
using ArchLab.Kernels.Cpu;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ArchLab.Tests.Kernels;

/// <summary>The fused CPU selective scan equals the tensor-op reference: outputs, final state, and every input's gradient.</summary>
public class SelectiveScanTests
{
    const int Batch = 2, Time = 37, Inner = 6;

    /// <summary>Leaf inputs x, Δ (softplus, positive), A (negative), B, C, h0 — with the scan's real value ranges.</summary>
    static Tensor[] Inputs(ScalarType dtype, bool withH0, int State = 4, long seed = 7) =>
        SelectiveScanInputs.Random(dtype, withH0, Batch, Time, Inner, State, seed);

    /// <summary>y, h_T and the gradients of a random weighted sum of both with respect to every input.</summary>
    static (Tensor Y, Tensor Last, Tensor[] Grads) Run(Tensor[] inputs, ScanBackend backend)
    {
        foreach (var t in inputs) t.grad?.zero_();
        var (y, last) = SelectiveScan.Forward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4],
                                              inputs.Length > 5 ? inputs[5] : null, backend);
        manual_seed(99);
        var wy = randn(y.shape, dtype: y.dtype);   // not randn_like: it keeps y's (backend-dependent) strides
        var wh = randn(last.shape, dtype: last.dtype);
        ((y * wy).sum() + (last * wh).sum()).backward();
        return (y.detach(), last.detach(), inputs.Select(t => t.grad!.clone()).ToArray());
    }

    static readonly string[] Names = ["x", "delta", "A", "B", "C", "h0"];

    [Theory]
    [InlineData(ScalarType.Float64, 1e-10, false)]
    [InlineData(ScalarType.Float64, 1e-10, true)]
    [InlineData(ScalarType.Float32, 1e-4, false)]
    [InlineData(ScalarType.Float32, 1e-4, true)]
    // N a whole number of 512-bit vectors: the explicit Vector512 row loops (N = 4 above takes the span path).
    [InlineData(ScalarType.Float64, 1e-10, true, 16)]
    [InlineData(ScalarType.Float64, 1e-10, false, 8)]
    [InlineData(ScalarType.Float32, 1e-4, true, 16)]
    public void FusedMatchesReference(ScalarType dtype, double atol, bool withH0, int state = 4)
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(dtype, withH0, state);
        Assert.True(SelectiveScanCpu.Supports(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], withH0 ? inputs[5] : null));
        var reference = Run(inputs, ScanBackend.Reference);
        var fused = Run(inputs, ScanBackend.Auto);
        TensorAssert.Close(reference.Y, fused.Y, atol, "y");
        TensorAssert.Close(reference.Last, fused.Last, atol, "h_T");
        Assert.Equal(inputs.Length, fused.Grads.Length);
        for (int i = 0; i < inputs.Length; i++)
        {
            Assert.True(reference.Grads[i].abs().max().to(ScalarType.Float64).item<double>() > 1e-3, $"d{Names[i]} is trivially small");
            TensorAssert.Close(reference.Grads[i], fused.Grads[i], atol * Math.Max(1, reference.Grads[i].abs().max().to(ScalarType.Float64).item<double>()), "d" + Names[i]);
        }
    }

    /// <summary>With one libtorch thread the kernel runs its tasks on the caller (no pool threads); same task split, so the
    /// same bits as the parallel run, forward and backward.</summary>
    [Fact]
    public void OneThreadGivesTheSameBitsAsParallel()
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(ScalarType.Float32, true, 16);
        var parallel = Run(inputs, ScanBackend.Cpu);
        int threads = get_num_threads();
        try
        {
            set_num_threads(1);
            var serial = Run(inputs, ScanBackend.Cpu);
            TensorAssert.Close(parallel.Y, serial.Y, 0.0, "y");
            TensorAssert.Close(parallel.Last, serial.Last, 0.0, "h_T");
            for (int i = 0; i < inputs.Length; i++) TensorAssert.Close(parallel.Grads[i], serial.Grads[i], 0.0, "d" + Names[i]);
        }
        finally { set_num_threads(threads); }
    }

    /// <summary>Non-contiguous views (as Mamba passes: a transposed x, narrowed B and C) and no_grad inference.</summary>
    [Fact]
    public void NonContiguousInputsAndNoGrad()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        manual_seed(3);
        var x = randn(Batch, Inner, Time, dtype: ScalarType.Float64).transpose(1, 2);
        var delta = nn.functional.softplus(randn(Batch, Time, Inner, dtype: ScalarType.Float64));
        const int State = 4;
        var a = -exp(randn(Inner, State, dtype: ScalarType.Float64));
        var bc = randn(Batch, Time, 2 * State + 1, dtype: ScalarType.Float64);
        var (b, c) = (bc.narrow(-1, 1, State), bc.narrow(-1, 1 + State, State));
        var h0 = randn(Batch, Inner, State, dtype: ScalarType.Float64);
        var (yr, lr) = SelectiveScan.Forward(x, delta, a, b, c, h0, ScanBackend.Reference);
        var (yf, lf) = SelectiveScan.Forward(x, delta, a, b, c, h0, ScanBackend.Auto);
        TensorAssert.Close(yr, yf, 1e-10, "y");
        TensorAssert.Close(lr, lf, 1e-10, "h_T");
    }

    [Fact]
    public void BackendParses()
    {
        Assert.Equal(ScanBackend.Auto, ScanBackends.Parse("auto"));
        Assert.Equal(ScanBackend.Reference, ScanBackends.Parse("Reference"));
        Assert.Throws<ArgumentException>(() => ScanBackends.Parse("cuda-magic"));
    }
}
