using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Cpu;

/// <summary>
/// Fused CPU WKV (see <see cref="Wkv4"/>) with a hand-written backward, on the raw memory of contiguous float32 / float64
/// CPU tensors. Vectorised over channels (8 float32 / 4 float64 adjacent channels per 256-bit vector, a partial vector at
/// the end of a row), parallel over (b, channel group) in a fixed list of tasks.
/// <para>Forward per token, the stable form of the official kernel with one exp per max instead of two
/// (e^{x−max(x,y)} and e^{y−max(x,y)} are 1 and e^{−|x−y|}):</para>
/// <code>
///   q = max(p, u+k):  wkv = (e^{p−q} a + e^{u+k−q} v) / (e^{p−q} b + e^{u+k−q})
///   q' = max(p+w, k): a ← e^{p+w−q'} a + e^{k−q'} v,  b ← e^{p+w−q'} b + e^{k−q'},  p ← q'
/// </code>
/// <para>Backward: the function does not depend on the choice of the scales p (they cancel), so the gradient is taken
/// with every p held fixed. With f1 = e^{p+w−q'}, f2 = e^{k−q'}, e1 = e^{p−q}/den, e2 = e^{u+k−q}/den and
/// (ga, gb) the adjoints of the scaled state (a, b) after token t, reverse time:</para>
/// <code>
///   dk_t = (ga v_t + gb) f2 + gy_t (v_t − wkv_t) e2      dv_t = ga f2 + gy_t e2
///   dw  += (ga a_{t−1} + gb b_{t−1}) f1                  du  += gy_t (v_t − wkv_t) e2
///   ga ← ga f1 + gy_t e1,   gb ← gb f1 − gy_t wkv_t e1
/// </code>
/// ending in dA0 = ga, dB0 = gb, dP0 = A0·ga + B0·gb. Every factor is at most 1 (p is the running maximum, b ≥ 1 after a
/// token), so the adjoints cannot overflow. The forward keeps (a, b, p) every <see cref="CheckpointEvery"/> tokens; the
/// backward recomputes each block's per-token factors into a small buffer and walks it backwards.
/// dw and du are summed over b in per-(b, c) buffers, then in a fixed order.
/// </summary>
public static class Wkv4Cpu
{
    /// <summary>Tokens between the states kept for the backward.</summary>
    public const int CheckpointEvery = 64;

    public static bool Supports(Tensor w, Tensor u, Tensor k, Tensor v, Wkv4State? initial) =>
        TensorPointer.AllCpu(k.dtype, w, u, k, v, initial?.A, initial?.B, initial?.P) && k.dim() == 3;

    public static (Tensor Y, Wkv4State Last) Forward(Tensor w, Tensor u, Tensor k, Tensor v, Wkv4State? initial)
    {
        long batch = k.shape[0], time = k.shape[1], channels = k.shape[2];
        Check(v, [batch, time, channels], "v"); Check(w, [channels], "w"); Check(u, [channels], "u");
        var (a, b, p) = initial ?? Wkv4State.Empty(batch, channels, k.dtype, k.device);
        Check(a, [batch, channels], "state A"); Check(b, [batch, channels], "state B"); Check(p, [batch, channels], "state P");
        bool needsGrad = is_grad_enabled() && new[] { w, u, k, v, a, b, p }.Any(t => t.requires_grad);
        var outputs = WkvFunction.apply(w, u, k, v, a, b, p, needsGrad);
        return (outputs[0], new Wkv4State(outputs[1], outputs[2], outputs[3]));
    }

    static void Check(Tensor t, long[] shape, string name)
    {
        if (!t.shape.SequenceEqual(shape))
            throw new ArgumentException($"wkv: {name} has shape [{string.Join(", ", t.shape)}], expected [{string.Join(", ", shape)}]");
    }

    sealed class WkvFunction : autograd.MultiTensorFunction<WkvFunction>
    {
        public override string Name => "Wkv4Cpu";

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var inputs = vars.Take(7).Select(t => ((Tensor)t).contiguous()).ToArray();
            bool needsGrad = (bool)vars[7];
            var k = inputs[2];
            long batch = k.shape[0], time = k.shape[1], channels = k.shape[2];
            var y = empty(batch, time, channels, dtype: k.dtype);
            var outState = new[] { empty(batch, channels, dtype: k.dtype), empty(batch, channels, dtype: k.dtype), empty(batch, channels, dtype: k.dtype) };
            var d = new Dims(batch, time, channels, k.dtype == ScalarType.Float32 ? Vector256<float>.Count : Vector256<double>.Count);
            var p = inputs.Select(t => t.Ptr()).ToArray();
            var o = new[] { y.Ptr(), outState[0].Ptr(), outState[1].Ptr(), outState[2].Ptr() };
            object? checkpoints = k.dtype == ScalarType.Float32 ? Kernel<float>.Forward(d, p, o, needsGrad) : Kernel<double>.Forward(d, p, o, needsGrad);
            if (needsGrad)
            {
                ctx.set_materialize_grads(false);        // see SelectiveScanCpu: undefined gradients become zeros below
                ctx.save_for_backward([.. inputs]);
                ctx.save_data("checkpoints", checkpoints!);
            }
            return [y, .. outState];
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
        {
            var saved = ctx.get_saved_variables();
            var checkpoints = ctx.get_data("checkpoints") ?? throw new InvalidOperationException("wkv: no checkpoints saved for backward");
            var k = saved[2];
            long batch = k.shape[0], time = k.shape[1], channels = k.shape[2];
            Tensor Grad(int i, Tensor like) => (gradOutputs[i] is { } g && !g.IsInvalid ? g.to(k.dtype) : zeros_like(like)).contiguous();
            var gy = Grad(0, k);
            var gA = Grad(1, saved[4]);
            var gB = Grad(2, saved[5]);                           // gradOutputs[3] (the scale P) is ignored: see Wkv4
            var grads = new[]
            {
                empty(batch, channels, dtype: k.dtype), empty(batch, channels, dtype: k.dtype),   // per-batch dw, du parts
                empty_like(k), empty_like(k), empty_like(saved[4]), empty_like(saved[5]), empty_like(saved[6]),
            };
            var d = new Dims(batch, time, channels, k.dtype == ScalarType.Float32 ? Vector256<float>.Count : Vector256<double>.Count);
            var p = saved.Select(t => t.Ptr()).ToArray();
            nint[] g = [gy.Ptr(), gA.Ptr(), gB.Ptr()];
            var outs = grads.Select(t => t.Ptr()).ToArray();
            if (k.dtype == ScalarType.Float32) Kernel<float>.Backward(d, p, (float[])checkpoints, g, outs);
            else Kernel<double>.Backward(d, p, (double[])checkpoints, g, outs);
            foreach (var t in saved) t.Dispose();
            var dw = grads[0].sum([0L]);                             // over b, in a fixed order
            var du = grads[1].sum([0L]);
            return [dw, du, grads[2], grads[3], grads[4], grads[5], grads[6], null!];
        }
    }

    /// <summary>Sizes and the task split over items = (b, group of W adjacent channels).</summary>
    readonly record struct Dims(long Batch, long Time, long Channels, int Width)
    {
        public int Groups => (int)((Channels + Width - 1) / Width);
        public long Items => Batch * Groups;
        public int Blocks => (int)((Time + CheckpointEvery - 1) / CheckpointEvery);
        public int Tasks => KernelGrain.TasksFor(Items);
        public (long Start, long End) Task(int i) => (Items * i / Tasks, Items * (i + 1) / Tasks);
        /// <summary>Item → batch b, first channel c0, channels in it (W, fewer at a row's end) and the offset of (b, c0)
        /// in a [B, C] tensor.</summary>
        public (long B, long C0, int Count, long S) Item(long item)
        {
            long b = item / Groups, c0 = item % Groups * Width;
            return (b, c0, (int)Math.Min(Width, Channels - c0), b * Channels + c0);
        }
    }

    static unsafe class Kernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        static int W => Vector256<T>.Count;

        /// <summary>e^{x−max(x,y)} and e^{y−max(x,y)} with one exp, and max(x, y).</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        static (Vector256<T> Ex, Vector256<T> Ey, Vector256<T> Max) Weights(Vector256<T> x, Vector256<T> y)
        {
            var diff = x - y;
            var small = SimdMath<T>.Exp(-Vector256.Abs(diff));
            var xWins = Vector256.GreaterThanOrEqual(diff, Vector256<T>.Zero);
            var one = Vector256<T>.One;
            return (Vector256.ConditionalSelect(xWins, one, small), Vector256.ConditionalSelect(xWins, small, one), Vector256.Max(x, y));
        }

        /// <summary>Inputs p = [w, u, k, v, A0, B0, P0], outputs o = [y, A, B, P]. Returns the checkpoints when
        /// <paramref name="keep"/>: [items, blocks, 3, W], (a, b, p) entering each block.</summary>
        public static T[]? Forward(Dims d, nint[] p, nint[] o, bool keep)
        {
            int time = (int)d.Time, blocks = d.Blocks;
            long channels = d.Channels;
            var checkpoints = keep ? GC.AllocateUninitializedArray<T>(checked((int)(d.Items * blocks * 3 * W)), pinned: true) : null;
            nint chkBase = checkpoints is null ? 0 : (nint)SimdMath<T>.Address(checkpoints);
            KernelGrain.Run(d.Tasks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (task) =>
            {
                T* w = (T*)p[0], u = (T*)p[1], k = (T*)p[2], v = (T*)p[3], a0 = (T*)p[4], b0 = (T*)p[5], p0 = (T*)p[6];
                T* y = (T*)o[0], aOut = (T*)o[1], bOut = (T*)o[2], pOut = (T*)o[3], chk = (T*)chkBase;
                var (start, end) = d.Task(task);
                for (long item = start; item < end; item++)
                {
                    var (b, c0, count, s) = d.Item(item);
                    var wv = SimdMath<T>.Load(w + c0, count);
                    var uv = SimdMath<T>.Load(u + c0, count);
                    var aa = SimdMath<T>.Load(a0 + s, count);
                    var bb = SimdMath<T>.Load(b0 + s, count);
                    var pp = SimdMath<T>.Load(p0 + s, count);
                    T* kr = k + b * time * channels + c0, vr = v + b * time * channels + c0, yr = y + b * time * channels + c0;
                    for (int t = 0; t < time; t++)
                    {
                        if (chk != null && t % CheckpointEvery == 0)
                        {
                            T* c = chk + (item * blocks + t / CheckpointEvery) * 3 * W;
                            aa.Store(c); bb.Store(c + W); pp.Store(c + 2 * W);
                        }
                        long off = t * channels;
                        var kk = SimdMath<T>.Load(kr + off, count);
                        var vv = SimdMath<T>.Load(vr + off, count);
                        var (e1, e2, _) = Weights(pp, uv + kk);
                        var wkv = SimdMath<T>.Fma(e1, aa, e2 * vv) / SimdMath<T>.Fma(e1, bb, e2);
                        SimdMath<T>.Store(wkv, yr + off, count);
                        var (f1, f2, q) = Weights(wv + pp, kk);
                        aa = SimdMath<T>.Fma(f1, aa, f2 * vv);
                        bb = SimdMath<T>.Fma(f1, bb, f2);
                        pp = q;
                    }
                    SimdMath<T>.Store(aa, aOut + s, count);
                    SimdMath<T>.Store(bb, bOut + s, count);
                    SimdMath<T>.Store(pp, pOut + s, count);
                }
            });
            return checkpoints;
        }

        /// <summary>Inputs p = [w, u, k, v, A0, B0, P0], incoming g = [dy, dA, dB]; outputs
        /// o = [dw per b [B,C], du per b [B,C], dk, dv, dA0, dB0, dP0].</summary>
        public static void Backward(Dims d, nint[] p, T[] checkpoints, nint[] g, nint[] o)
        {
            int time = (int)d.Time, blocks = d.Blocks;
            long channels = d.Channels;
            nint chkBase = (nint)SimdMath<T>.Address(checkpoints);
            const int Fields = 7;                                  // per token: a_{t−1}, b_{t−1}, e1, e2, wkv, f1, f2
            KernelGrain.Run(d.Tasks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (task) =>
            {
                T* w = (T*)p[0], u = (T*)p[1], k = (T*)p[2], v = (T*)p[3], a0 = (T*)p[4], b0 = (T*)p[5];
                T* gy = (T*)g[0], gAOut = (T*)g[1], gBOut = (T*)g[2], chk = (T*)chkBase;
                T* dwPart = (T*)o[0], duPart = (T*)o[1], dk = (T*)o[2], dv = (T*)o[3], dA0 = (T*)o[4], dB0 = (T*)o[5], dP0 = (T*)o[6];
                var buffer = (Vector256<T>*)SimdMath<T>.Scratch((long)CheckpointEvery * Fields * W, out var keep);
                var (start, end) = d.Task(task);
                for (long item = start; item < end; item++)
                {
                    var (b, c0, count, s) = d.Item(item);
                    var wv = SimdMath<T>.Load(w + c0, count);
                    var uv = SimdMath<T>.Load(u + c0, count);
                    var ga = SimdMath<T>.Load(gAOut + s, count);
                    var gb = SimdMath<T>.Load(gBOut + s, count);
                    Vector256<T> gw = Vector256<T>.Zero, gu = Vector256<T>.Zero;
                    long rowOff = b * time * channels + c0;
                    T* kr = k + rowOff, vr = v + rowOff, gyr = gy + rowOff, dkr = dk + rowOff, dvr = dv + rowOff;
                    for (int blk = blocks - 1; blk >= 0; blk--)
                    {
                        int t0 = blk * CheckpointEvery, t1 = Math.Min(time, t0 + CheckpointEvery);
                        T* c = chk + (item * blocks + blk) * 3 * W;
                        Vector256<T> aa = Vector256.Load(c), bb = Vector256.Load(c + W), pp = Vector256.Load(c + 2 * W);
                        for (int t = t0; t < t1; t++)                       // recompute the block's factors
                        {
                            long off = t * channels;
                            var kk = SimdMath<T>.Load(kr + off, count);
                            var vv = SimdMath<T>.Load(vr + off, count);
                            var f = buffer + (t - t0) * Fields;
                            var (e1, e2, _) = Weights(pp, uv + kk);
                            var inv = Vector256<T>.One / SimdMath<T>.Fma(e1, bb, e2);
                            f[0] = aa; f[1] = bb;
                            f[2] = e1 * inv; f[3] = e2 * inv;
                            f[4] = SimdMath<T>.Fma(e1, aa, e2 * vv) * inv;
                            var (f1, f2, q) = Weights(wv + pp, kk);
                            f[5] = f1; f[6] = f2;
                            aa = SimdMath<T>.Fma(f1, aa, f2 * vv);
                            bb = SimdMath<T>.Fma(f1, bb, f2);
                            pp = q;
                        }
                        for (int t = t1 - 1; t >= t0; t--)                  // and walk it backwards
                        {
                            long off = t * channels;
                            var vv = SimdMath<T>.Load(vr + off, count);
                            var gyv = SimdMath<T>.Load(gyr + off, count);
                            var f = buffer + (t - t0) * Fields;
                            var (f1, f2) = (f[5], f[6]);
                            var gk = SimdMath<T>.Fma(ga, vv, gb) * f2;
                            var gv = ga * f2;
                            gw = SimdMath<T>.Fma(SimdMath<T>.Fma(ga, f[0], gb * f[1]), f1, gw);
                            var ge1 = gyv * f[2];
                            ga = SimdMath<T>.Fma(ga, f1, ge1);
                            gb = SimdMath<T>.Fma(gb, f1, -(ge1 * f[4]));
                            var out2 = gyv * (vv - f[4]) * f[3];
                            gk += out2;
                            gu += out2;
                            gv = SimdMath<T>.Fma(gyv, f[3], gv);
                            SimdMath<T>.Store(gk, dkr + off, count);
                            SimdMath<T>.Store(gv, dvr + off, count);
                        }
                    }
                    var aInit = SimdMath<T>.Load(a0 + s, count);
                    var bInit = SimdMath<T>.Load(b0 + s, count);
                    SimdMath<T>.Store(ga, dA0 + s, count);
                    SimdMath<T>.Store(gb, dB0 + s, count);
                    SimdMath<T>.Store(SimdMath<T>.Fma(aInit, ga, bInit * gb), dP0 + s, count);
                    SimdMath<T>.Store(gw, dwPart + s, count);
                    SimdMath<T>.Store(gu, duPart + s, count);
                }
                GC.KeepAlive(keep);
            });
        }
    }
}
