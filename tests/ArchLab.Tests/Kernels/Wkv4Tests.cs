using ArchLab.Kernels;
using ArchLab.Kernels.Cpu;
using ArchLab.Kernels.Reference;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Kernels;

/// <summary>The fused CPU WKV equals the tensor-op reference: output, final state (A, B, P) and the gradient of every input.</summary>
public class Wkv4Tests
{
    const int Batch = 2;

    /// <summary>Leaf inputs w (negative), u, k, v and, optionally, a state as if tokens had gone before (b ≥ 0.5, p either sign).</summary>
    static Tensor[] Inputs(ScalarType dtype, bool withState, int time, int channels, double keyScale = 1, long seed = 7)
    {
        manual_seed(seed);
        var list = new List<Tensor>
        {
            -exp(empty(channels, dtype: dtype).uniform_(-5, 3)),          // w = −exp(time_decay), RWKV-LM's range
            randn(channels, dtype: dtype) - 1,                             // u
            keyScale * randn(Batch, time, channels, dtype: dtype),         // k
            randn(Batch, time, channels, dtype: dtype),                    // v
        };
        if (withState)
        {
            list.Add(randn(Batch, channels, dtype: dtype));
            list.Add(rand(Batch, channels, dtype: dtype) + 0.5);
            list.Add(3 * randn(Batch, channels, dtype: dtype));
        }
        return list.Select(t => t.detach().requires_grad_(true)).ToArray();
    }

    /// <summary>wkv, final (A, B, P) and the gradients of a random weighted sum of wkv, A and B (P is a scale: see Wkv4),
    /// or with <paramref name="invariant"/> of wkv and A/B, which does not depend on the scale at all: the token recurrence
    /// differentiates through every max, so only a scale-free use of the final state is comparable with it.</summary>
    static (Tensor Y, Tensor[] Last, Tensor[] Grads) Run(Tensor[] inputs, Func<Wkv4State?, (Tensor, Wkv4State)> run, bool invariant = false)
    {
        foreach (var t in inputs) t.grad?.zero_();
        var (y, last) = run(inputs.Length > 4 ? new Wkv4State(inputs[4], inputs[5], inputs[6]) : null);
        manual_seed(99);
        var wy = randn(y.shape, dtype: y.dtype);
        var wa = randn(last.A.shape, dtype: y.dtype);
        var wb = randn(last.B.shape, dtype: y.dtype);
        var stateLoss = invariant ? (last.A / last.B * wa).sum() : (last.A * wa).sum() + (last.B * wb).sum();
        ((y * wy).sum() + stateLoss).backward();
        return (y.detach(), [last.A.detach(), last.B.detach(), last.P.detach()], inputs.Select(t => t.grad!.clone()).ToArray());
    }

    static readonly string[] Names = ["w", "u", "k", "v", "A0", "B0", "P0"];

    /// <param name="initialStateMatters">False where huge keys swamp the initial state (its gradients are then ≈ 0).</param>
    static void AssertSame((Tensor Y, Tensor[] Last, Tensor[] Grads) expected, (Tensor Y, Tensor[] Last, Tensor[] Grads) actual, double atol,
                           bool initialStateMatters = true)
    {
        TensorAssert.Close(expected.Y, actual.Y, atol, "wkv");
        for (int i = 0; i < 3; i++)
        {
            double scale = Math.Max(1, expected.Last[i].abs().max().to(ScalarType.Float64).item<double>());
            TensorAssert.Close(expected.Last[i], actual.Last[i], atol * scale, "final " + "ABP"[i]);
        }
        for (int i = 0; i < expected.Grads.Length; i++)
        {
            double max = expected.Grads[i].abs().max().to(ScalarType.Float64).item<double>();
            Assert.True(max > 1e-3 || (i >= 4 && !initialStateMatters), $"d{Names[i]} is trivially small");
            TensorAssert.Close(expected.Grads[i], actual.Grads[i], atol * Math.Max(1, max), "d" + Names[i]);
        }
    }

    // 150 tokens: three checkpoint blocks of 64, the last one partial. 12 channels: one whole and one partial float32
    // vector (8 lanes), three whole float64 vectors (4 lanes); 5 channels: a partial vector only.
    [Theory]
    [InlineData(ScalarType.Float64, 1e-10, false, 150, 12)]
    [InlineData(ScalarType.Float64, 1e-10, true, 150, 12)]
    [InlineData(ScalarType.Float64, 1e-10, true, 37, 5)]
    [InlineData(ScalarType.Float32, 2e-4, false, 150, 12)]
    [InlineData(ScalarType.Float32, 2e-4, true, 70, 16)]
    public void FusedMatchesReference(ScalarType dtype, double atol, bool withState, int time, int channels)
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(dtype, withState, time, channels);
        Assert.True(Wkv4Cpu.Supports(inputs[0], inputs[1], inputs[2], inputs[3], null));
        var reference = Run(inputs, s => Wkv4.Forward(inputs[0], inputs[1], inputs[2], inputs[3], s, ScanBackend.Reference));
        var fused = Run(inputs, s => Wkv4.Forward(inputs[0], inputs[1], inputs[2], inputs[3], s, ScanBackend.Cpu));
        AssertSame(reference, fused, atol);
    }

    /// <summary>With one libtorch thread the kernel runs its tasks on the caller (no pool threads); same task split, so the
    /// same bits as the parallel run, forward and backward.</summary>
    [Fact]
    public void OneThreadGivesTheSameBitsAsParallel()
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(ScalarType.Float32, true, 150, 40);
        var parallel = Run(inputs, s => Wkv4.Forward(inputs[0], inputs[1], inputs[2], inputs[3], s, ScanBackend.Cpu));
        int threads = get_num_threads();
        try
        {
            set_num_threads(1);
            var serial = Run(inputs, s => Wkv4.Forward(inputs[0], inputs[1], inputs[2], inputs[3], s, ScanBackend.Cpu));
            AssertSame(parallel, serial, 0.0);
        }
        finally { set_num_threads(threads); }
    }

    /// <summary>The blocked reference and the token-by-token reference (the official att_one arithmetic) agree, and the
    /// fused kernel with them, also with keys so large that e^k overflows (the stable form must not).</summary>
    [Theory]
    [InlineData(1.0)]
    [InlineData(300.0)]
    public void TokenRecurrenceBlockedReferenceAndFusedAgree(double keyScale)
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(ScalarType.Float64, true, 40, 6, keyScale);
        var recurrence = Run(inputs, s => Wkv4Reference.Forward(inputs[0], inputs[1], inputs[2], inputs[3], s, block: 0), invariant: true);
        var blocked = Run(inputs, s => Wkv4Reference.Forward(inputs[0], inputs[1], inputs[2], inputs[3], s, block: 16), invariant: true);
        var fused = Run(inputs, s => Wkv4Cpu.Forward(inputs[0], inputs[1], inputs[2], inputs[3], s), invariant: true);
        Assert.True(fused.Y.isfinite().all().item<bool>() && fused.Grads.All(g => g.isfinite().all().item<bool>()), "non-finite values");
        AssertSame(recurrence, blocked, 1e-9, keyScale < 10);
        AssertSame(recurrence, fused, 1e-9, keyScale < 10);
    }

    /// <summary>Non-contiguous k and v (views of a wider projection) and no-grad inference.</summary>
    [Fact]
    public void NonContiguousInputsAndNoGrad()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        manual_seed(3);
        var kv = randn(Batch, 20, 2 * 9 + 1, dtype: ScalarType.Float64);
        var (k, v) = (kv.narrow(-1, 1, 9), kv.narrow(-1, 10, 9));
        var w = -exp(randn(9, dtype: ScalarType.Float64));
        var u = randn(9, dtype: ScalarType.Float64);
        var (yr, lr) = Wkv4.Forward(w, u, k, v, null, ScanBackend.Reference);
        var (yf, lf) = Wkv4.Forward(w, u, k, v, null, ScanBackend.Cpu);
        TensorAssert.Close(yr, yf, 1e-10, "wkv");
        TensorAssert.Close(lr.A, lf.A, 1e-10, "A");
        TensorAssert.Close(lr.P, lf.P, 1e-10, "P");
    }

    [Fact]
    public void BackendChoicesAreCheckedWithOneLineErrors()
    {
        using var scope = NewDisposeScope();
        var k = randn(1, 3, 4, dtype: ScalarType.BFloat16);
        var w = -ones(4, dtype: ScalarType.BFloat16);
        var e = Assert.Throws<ArgumentException>(() => Wkv4.Forward(w, w, k, k, null, ScanBackend.Cpu));
        Assert.Contains("cpu backend needs float32 or float64", e.Message);
        var ilgpu = Assert.Throws<ArgumentException>(() => Wkv4.Forward(w, w, k, k, null, ScanBackend.Ilgpu));
        Assert.Contains("ilgpu backend needs float32 or float64", ilgpu.Message);
        Assert.Equal(ScanBackend.Cpu, ScanBackends.Parse(" CPU "));
        Assert.Equal(ScanBackend.Ilgpu, ScanBackends.Parse("ilgpu"));
    }
}
