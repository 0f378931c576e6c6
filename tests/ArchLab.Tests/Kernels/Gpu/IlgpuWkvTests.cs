using ArchLab.Kernels;
using ArchLab.Kernels.Gpu;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Kernels.Gpu;

/// <summary>The ILGPU RWKV-4 WKV (on ILGPU's CPU accelerator) equals a tensor-op loop of the stable recurrence (the
/// arithmetic of Rwkv4TimeMix's token-by-token path) in outputs, final state and every gradient, and equals the plain
/// weighted-average definition of WKV.</summary>
public class IlgpuWkvTests
{
    /// <summary>The stable WKV recurrence, one token at a time, in tensor ops (autograd through the ops).</summary>
    static (Tensor Y, Tensor A, Tensor B, Tensor P) Reference(Tensor w, Tensor u, Tensor k, Tensor v, Tensor a, Tensor b, Tensor p)
    {
        var ys = new List<Tensor>();
        for (long t = 0; t < k.shape[1]; t++)
        {
            var kt = k.select(1, t);
            var vt = v.select(1, t);
            var bonus = u + kt;
            var q = maximum(p, bonus);
            var e1 = (p - q).exp();
            var e2 = (bonus - q).exp();
            ys.Add(((e1 * a + e2 * vt) / (e1 * b + e2)).unsqueeze(1));
            var decayed = w + p;
            var q2 = maximum(decayed, kt);
            var d1 = (decayed - q2).exp();
            var d2 = (kt - q2).exp();
            (a, b, p) = (d1 * a + d2 * vt, d1 * b + d2, q2);
        }
        return (cat(ys, 1), a, b, p);
    }

    sealed record Case(Tensor W, Tensor U, Tensor K, Tensor V, Tensor[]? State)
    {
        public Tensor[] Leaves => State is null ? [W, U, K, V] : [W, U, K, V, .. State];
    }

    /// <summary>Random inputs in RWKV's ranges (w = −exp(time_decay)); the initial state, when asked for, is the state after
    /// a random prefix (so it is one the recurrence can reach), detached into leaves.</summary>
    static Case Inputs(ScalarType dtype, bool withState, int batch, int time, int channels, long seed, double keyScale = 1)
    {
        manual_seed(seed);
        var w = -exp(randn(channels, dtype: dtype));
        var u = 0.5 * randn(channels, dtype: dtype);
        var k = keyScale * randn(batch, time, channels, dtype: dtype);
        var v = randn(batch, time, channels, dtype: dtype);
        Tensor[]? state = null;
        if (withState)
        {
            var empty = Wkv4State.Empty(batch, channels, dtype);
            var (_, a, b, p) = Reference(w, u, randn(batch, 5, channels, dtype: dtype), randn(batch, 5, channels, dtype: dtype),
                                         empty.A, empty.B, empty.P);
            state = [a.detach().requires_grad_(true), b.detach().requires_grad_(true), p.detach().requires_grad_(true)];
        }
        return new Case(w.detach().requires_grad_(true), u.detach().requires_grad_(true), k.requires_grad_(true),
                        v.requires_grad_(true), state);
    }

    /// <summary>y, the final state, and the gradients of Σ y·wy + Σ a_T·wa + Σ b_T·wb + Σ p_T·wp.</summary>
    static (Tensor[] Outputs, Tensor[] Grads) Run(Case c, bool ilgpu)
    {
        foreach (var t in c.Leaves) t.grad?.zero_();
        Tensor[] outputs;
        if (ilgpu)
        {
            var initial = c.State is null ? null : new Wkv4State(c.State[0], c.State[1], c.State[2]);
            var r = IlgpuWkvFunction.Forward(c.W, c.U, c.K, c.V, initial, IlgpuTestAccelerator.Cpu);
            outputs = [r.Y, r.State.A, r.State.B, r.State.P];
        }
        else
        {
            var empty = Wkv4State.Empty(c.K.shape[0], c.K.shape[2], c.K.dtype);
            var s = c.State ?? [empty.A, empty.B, empty.P];
            var (y, a, b, p) = Reference(c.W, c.U, c.K, c.V, s[0], s[1], s[2]);
            outputs = [y, a, b, p];
        }
        using var weights = new Generator(99); // local: other tests share the global generator in parallel
        var loss = outputs.Select(o => (o * randn(o.shape, dtype: o.dtype, generator: weights)).sum()).Aggregate((x, y) => x + y);
        loss.backward();
        return (outputs.Select(o => o.detach()).ToArray(), c.Leaves.Select(t => t.grad!.clone()).ToArray());
    }

    static readonly string[] OutputNames = ["y", "a_T", "b_T", "p_T"];
    static readonly string[] GradNames = ["dw", "du", "dk", "dv", "da0", "db0", "dp0"];

    [Theory]
    [InlineData(ScalarType.Float32, 5e-5, false, 2, 7, 4)]
    [InlineData(ScalarType.Float32, 5e-5, true, 2, 12, 6)]
    [InlineData(ScalarType.Float64, 1e-11, false, 2, 16, 5)]
    [InlineData(ScalarType.Float64, 1e-11, true, 1, 9, 8)]
    public void MatchesReference(ScalarType dtype, double tolerance, bool withState, int batch, int time, int channels)
    {
        using var scope = NewDisposeScope();
        var c = Inputs(dtype, withState, batch, time, channels, seed: 11 + time);
        var reference = Run(c, ilgpu: false);
        var gpu = Run(c, ilgpu: true);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(dtype, gpu.Outputs[i].dtype);
            TensorAssert.Close(reference.Outputs[i], gpu.Outputs[i], IlgpuTestAccelerator.Tolerance(reference.Outputs[i], tolerance), OutputNames[i]);
        }
        Assert.Equal(c.Leaves.Length, gpu.Grads.Length);
        for (int i = 0; i < c.Leaves.Length; i++)
        {
            Assert.True(reference.Grads[i].abs().max().to(ScalarType.Float64).item<double>() > 1e-3, $"{GradNames[i]} is trivially small");
            TensorAssert.Close(reference.Grads[i], gpu.Grads[i], IlgpuTestAccelerator.Tolerance(reference.Grads[i], tolerance), GradNames[i]);
        }
    }

    /// <summary>From the empty state, y_t = (Σ_{i&lt;t} e^{(t−1−i)w + k_i} v_i + e^{u + k_t} v_t) / (same weights without v),
    /// and the final state holds those sums without the bonus term: a_T e^{p_T} = Σ_i e^{(T−1−i)w + k_i} v_i.</summary>
    [Fact]
    public void EqualsWeightedAverageDefinition()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        const int batch = 2, time = 8, channels = 3;
        var c = Inputs(ScalarType.Float64, withState: false, batch, time, channels, seed: 3);
        var r = IlgpuTestAccelerator.Cpu.WkvForward(c.W, c.U, c.K, c.V);
        var w = c.W.data<double>().ToArray();
        var u = c.U.data<double>().ToArray();
        for (int b = 0; b < batch; b++)
            for (int ch = 0; ch < channels; ch++)
            {
                double Key(int i) => c.K[b, i, ch].item<double>();
                double Value(int i) => c.V[b, i, ch].item<double>();
                for (int t = 0; t <= time; t++)
                {
                    double num = 0, den = 0;
                    for (int i = 0; i < t; i++)
                    {
                        double weight = Math.Exp((t - 1 - i) * w[ch] + Key(i));
                        num += weight * Value(i);
                        den += weight;
                    }
                    if (t < time)
                    {
                        double bonus = Math.Exp(u[ch] + Key(t));
                        Assert.Equal((num + bonus * Value(t)) / (den + bonus), r.Y[b, t, ch].item<double>(), 1e-12);
                    }
                    else
                    {
                        double scale = Math.Exp(r.State.P[b, ch].item<double>());
                        Assert.Equal(num, r.State.A[b, ch].item<double>() * scale, 1e-10);
                        Assert.Equal(den, r.State.B[b, ch].item<double>() * scale, 1e-10);
                    }
                }
            }
    }

    /// <summary>Keys up to ±200 (e^200 overflows float32 and nearly float64's e^709 after sums): the stable form stays finite
    /// and the float32 kernel matches the float64 reference.</summary>
    [Fact]
    public void StableForLargeKeys()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var c = Inputs(ScalarType.Float64, withState: false, batch: 2, time: 10, channels: 4, seed: 8, keyScale: 60);
        var empty = Wkv4State.Empty(2, 4, ScalarType.Float64);
        var (y, _, b, p) = Reference(c.W, c.U, c.K, c.V, empty.A, empty.B, empty.P);
        var r = IlgpuTestAccelerator.Cpu.WkvForward(c.W.to(ScalarType.Float32), c.U.to(ScalarType.Float32),
                                                    c.K.to(ScalarType.Float32), c.V.to(ScalarType.Float32));
        Assert.True(r.Y.isfinite().all().item<bool>(), "float32 WKV overflowed");
        TensorAssert.Close(y, r.Y, 1e-4, "y");
        TensorAssert.Close(p, r.State.P, 1e-4 * p.abs().max().item<double>(), "p_T");
        TensorAssert.Close(b, r.State.B, 1e-4, "b_T");
    }
}
