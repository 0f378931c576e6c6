using System.Numerics;
using System.Runtime.Intrinsics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Cpu;

/// <summary>
/// Fused CPU selective scan (see <see cref="SelectiveScan"/> for the equations) with a hand-written backward, on the raw
/// memory of contiguous float32 / float64 CPU tensors. Work is split over the B·E independent (b, e) rows in a fixed number
/// of contiguous chunks (one per core), so results do not depend on scheduling.
/// <para>Per row: the decays exp(Δ_t A_e) for all t are computed at once (one vectorised exp over T·N), then a loop over t
/// updates h ∈ ℝ^N with TensorPrimitives (Vector512 on AVX-512).</para>
/// <para>Saved for backward: when a gradient is needed the forward stores every state h_t, [B,E,T,N] in a managed array
/// (B·E·T·N values: 33 MB in float32 at B=2, T=1024, E=256, N=16), and the backward recomputes the decays.</para>
/// Backward, reverse time, with g = ∂L/∂h_t accumulated from the future:
/// <code>
///   g    += dy_t C_t                     dC_t += dy_t h_t        (summed over e)
///   dA_e += Δ_t (g ⊙ a_t ⊙ h_{t−1})      a_t = exp(Δ_t A_e)        (summed over b)
///   dΔ_t  = A_e·(g ⊙ a_t ⊙ h_{t−1}) + x_t (g·B_t)
///   dx_t  = Δ_t (g·B_t)                  dB_t += Δ_t x_t g        (summed over e)
///   g     = a_t ⊙ g                      (→ dh0 after t = 0)
/// </code>
/// The sums over e and b go to per-chunk buffers, added in chunk order at the end (no races, deterministic).
/// </summary>
public static class SelectiveScanCpu
{
    /// <summary>True when the kernel can run these tensors: all on the CPU and all float32 or all float64.</summary>
    public static bool Supports(Tensor x, Tensor delta, Tensor a, Tensor bIn, Tensor cIn, Tensor? h0)
    {
        var dtype = x.dtype;
        if (dtype != ScalarType.Float32 && dtype != ScalarType.Float64) return false;
        foreach (var t in new[] { x, delta, a, bIn, cIn, h0 })
            if (t is not null && (t.device_type != DeviceType.CPU || t.dtype != dtype)) return false;
        return x.dim() == 3 && a.dim() == 2;
    }

    public static (Tensor Y, Tensor Last) Forward(Tensor x, Tensor delta, Tensor a, Tensor bIn, Tensor cIn, Tensor? h0)
    {
        long batch = x.shape[0], time = x.shape[1], inner = x.shape[2], state = a.shape[1];
        Check(delta, [batch, time, inner], "delta"); Check(a, [inner, state], "A");
        Check(bIn, [batch, time, state], "B"); Check(cIn, [batch, time, state], "C");
        h0 ??= zeros(batch, inner, state, dtype: x.dtype, device: x.device);
        Check(h0, [batch, inner, state], "h0");
        bool needsGrad = is_grad_enabled() && new[] { x, delta, a, bIn, cIn, h0 }.Any(t => t.requires_grad);
        var outputs = ScanFunction.apply(x, delta, a, bIn, cIn, h0, needsGrad);
        return (outputs[0], outputs[1]);
    }

    static void Check(Tensor t, long[] shape, string name)
    {
        if (!t.shape.SequenceEqual(shape))
            throw new ArgumentException($"selective scan: {name} has shape [{string.Join(", ", t.shape)}], expected [{string.Join(", ", shape)}]");
    }

    sealed class ScanFunction : autograd.MultiTensorFunction<ScanFunction>
    {
        public override string Name => "SelectiveScanCpu";

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var inputs = vars.Take(6).Select(v => ((Tensor)v).contiguous()).ToList();
            bool needsGrad = (bool)vars[6];
            var (x, delta, a, bIn, cIn, h0) = (inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5]);
            long batch = x.shape[0], time = x.shape[1], inner = x.shape[2], state = a.shape[1];
            var y = empty(batch, time, inner, dtype: x.dtype);
            var last = empty(batch, inner, state, dtype: x.dtype);
            var dims = new Dims(batch, time, inner, state);
            object? hs;
            if (x.dtype == ScalarType.Float32)
                hs = Kernel<float>.Forward(dims, Ptrs(x, delta, a, bIn, cIn, h0), y.Ptr(), last.Ptr(), needsGrad);
            else
                hs = Kernel<double>.Forward(dims, Ptrs(x, delta, a, bIn, cIn, h0), y.Ptr(), last.Ptr(), needsGrad);
            if (needsGrad)
            {
                // An unused output's gradient arrives undefined (backward substitutes zeros): TorchSharp's own
                // materialisation would read the output's managed wrapper, which the caller's dispose scope may have freed.
                ctx.set_materialize_grads(false);
                ctx.save_for_backward(inputs);
                ctx.save_data("hs", hs!);
            }
            return [y, last];
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
        {
            var saved = ctx.get_saved_variables();
            var hs = ctx.get_data("hs") ?? throw new InvalidOperationException("selective scan: no states saved for backward");
            var (x, delta, a, bIn, cIn, h0) = (saved[0], saved[1], saved[2], saved[3], saved[4], saved[5]);
            long batch = x.shape[0], time = x.shape[1], inner = x.shape[2], state = a.shape[1];
            var dims = new Dims(batch, time, inner, state);
            var dy = (gradOutputs[0] is { } g0 && !g0.IsInvalid ? g0 : zeros_like(x)).to(x.dtype).contiguous();
            var dLast = (gradOutputs[1] is { } g1 && !g1.IsInvalid ? g1 : zeros_like(h0)).to(x.dtype).contiguous();
            var grads = new[] { empty_like(x), empty_like(delta), empty_like(a), empty_like(bIn), empty_like(cIn), empty_like(h0) };
            var gp = grads.Select(t => t.Ptr()).ToArray();
            if (x.dtype == ScalarType.Float32)
                Kernel<float>.Backward(dims, Ptrs(x, delta, a, bIn, cIn, h0), (float[])hs, dy.Ptr(), dLast.Ptr(), gp);
            else
                Kernel<double>.Backward(dims, Ptrs(x, delta, a, bIn, cIn, h0), (double[])hs, dy.Ptr(), dLast.Ptr(), gp);
            foreach (var t in saved) t.Dispose();
            return [.. grads, null!];                                                 // none for the needsGrad flag
        }

        static nint[] Ptrs(params Tensor[] ts) => ts.Select(t => t.Ptr()).ToArray();
    }

    readonly record struct Dims(long Batch, long Time, long Inner, long State)
    {
        public int Rows => checked((int)(Batch * Inner));
        public int Chunks => Math.Max(1, Math.Min(Environment.ProcessorCount, Rows));
        public (int Start, int End) Chunk(int c) => ((int)((long)Rows * c / Chunks), (int)((long)Rows * (c + 1) / Chunks));
    }

    static unsafe class Kernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        /// <summary>Inputs p = [x, Δ, A, B, C, h0]. Returns the states [B,E,T,N] when <paramref name="keep"/>.</summary>
        public static T[]? Forward(Dims d, nint[] p, nint yPtr, nint lastPtr, bool keep)
        {
            int time = (int)d.Time, inner = (int)d.Inner, n = (int)d.State;
            var hs = keep ? GC.AllocateUninitializedArray<T>(checked(d.Rows * time * n)) : null;   // every element is written
            Parallel.For(0, d.Chunks, c =>
            {
                T* x = (T*)p[0], delta = (T*)p[1], a = (T*)p[2], bm = (T*)p[3], cm = (T*)p[4], h0 = (T*)p[5];
                T* y = (T*)yPtr, last = (T*)lastPtr;
                var dec = new T[(long)time * n];
                var (start, end) = d.Chunk(c);
                for (int row = start; row < end; row++)
                {
                    int b = row / inner, e = row % inner;
                    var aRow = new ReadOnlySpan<T>(a + (long)e * n, n);
                    Decays(dec, aRow, delta, b, e, time, inner, n);
                    var h = new Span<T>(last + (long)row * n, n);
                    new ReadOnlySpan<T>(h0 + (long)row * n, n).CopyTo(h);
                    if (Vectorised(n))
                    {
                        fixed (T* decP = dec, hsP = hs)
                            ForwardRow512(row, b, e, time, inner, n, x, delta, bm, cm, y, last + (long)row * n, decP,
                                          hs is null ? null : hsP + (long)row * time * n);
                        continue;
                    }
                    for (int t = 0; t < time; t++)
                    {
                        long bt = (long)b * time + t, ix = bt * inner + e;
                        var bRow = new ReadOnlySpan<T>(bm + bt * n, n);
                        var decT = new ReadOnlySpan<T>(dec, t * n, n);
                        TensorPrimitives.Multiply(decT, h, h);
                        TensorPrimitives.MultiplyAdd(bRow, delta[ix] * x[ix], h, h);
                        y[ix] = TensorPrimitives.Dot(new ReadOnlySpan<T>(cm + bt * n, n), h);
                        if (hs is not null) h.CopyTo(new Span<T>(hs, (row * time + t) * n, n));
                    }
                }
            });
            return hs;
        }

        /// <summary>dec[t, n] = exp(Δ[b, t, e] A[e, n]) for the whole row, one vectorised exp.</summary>
        static void Decays(T[] dec, ReadOnlySpan<T> aRow, T* delta, int b, int e, int time, int inner, int n)
        {
            for (int t = 0; t < time; t++)
                TensorPrimitives.Multiply(aRow, delta[((long)b * time + t) * inner + e], new Span<T>(dec, t * n, n));
            TensorPrimitives.Exp<T>(dec, dec);
        }

        /// <summary>Gradients g = [dx, dΔ, dA, dB, dC, dh0] written through their pointers.</summary>
        public static void Backward(Dims d, nint[] p, T[] hs, nint dyPtr, nint dLastPtr, nint[] g)
        {
            int time = (int)d.Time, inner = (int)d.Inner, n = (int)d.State, batch = (int)d.Batch;
            int btn = checked(batch * time * n);
            var dBParts = new T[d.Chunks][];
            var dCParts = new T[d.Chunks][];
            var dAParts = new T[d.Chunks][];
            Parallel.For(0, d.Chunks, c =>
            {
                T* x = (T*)p[0], delta = (T*)p[1], a = (T*)p[2], bm = (T*)p[3], cm = (T*)p[4], h0 = (T*)p[5];
                T* dy = (T*)dyPtr, dLast = (T*)dLastPtr, dx = (T*)g[0], dDelta = (T*)g[1], dh0 = (T*)g[5];
                var dB = dBParts[c] = new T[btn];
                var dC = dCParts[c] = new T[btn];
                var dA = dAParts[c] = new T[inner * n];
                var dec = new T[(long)time * n];
                Span<T> tmp = stackalloc T[n];
                var (start, end) = d.Chunk(c);
                for (int row = start; row < end; row++)
                {
                    int b = row / inner, e = row % inner;
                    var aRow = new ReadOnlySpan<T>(a + (long)e * n, n);
                    var dARow = new Span<T>(dA, e * n, n);
                    Decays(dec, aRow, delta, b, e, time, inner, n);
                    var gh = new Span<T>(dh0 + (long)row * n, n);                       // g, ends as dh0
                    new ReadOnlySpan<T>(dLast + (long)row * n, n).CopyTo(gh);
                    if (Vectorised(n))
                    {
                        fixed (T* decP = dec, hsP = hs, dBP = dB, dCP = dC, dAP = dA)
                            BackwardRow512(b, e, time, inner, n, x, delta, a + (long)e * n, bm, cm, h0 + (long)row * n,
                                           dy, dx, dDelta, dh0 + (long)row * n, decP, hsP + (long)row * time * n,
                                           dBP, dCP, dAP + (long)e * n);
                        continue;
                    }
                    for (int t = time - 1; t >= 0; t--)
                    {
                        long bt = (long)b * time + t, ix = bt * inner + e;
                        int o = (int)(bt * n);
                        var hT = new ReadOnlySpan<T>(hs, (row * time + t) * n, n);
                        var hPrev = t > 0 ? new ReadOnlySpan<T>(hs, (row * time + t - 1) * n, n)
                                          : new ReadOnlySpan<T>(h0 + (long)row * n, n);
                        var bRow = new ReadOnlySpan<T>(bm + bt * n, n);
                        var decT = new ReadOnlySpan<T>(dec, t * n, n);
                        T dyt = dy[ix], dt = delta[ix], xt = x[ix];

                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(cm + bt * n, n), dyt, gh, gh);
                        var dCRow = new Span<T>(dC, o, n);
                        TensorPrimitives.MultiplyAdd(hT, dyt, dCRow, dCRow);

                        TensorPrimitives.Multiply(gh, decT, tmp);
                        TensorPrimitives.Multiply(tmp, hPrev, tmp);                             // g ⊙ a ⊙ h_{t−1}
                        TensorPrimitives.MultiplyAdd(tmp, dt, dARow, dARow);
                        T gB = TensorPrimitives.Dot(gh, bRow);
                        dDelta[ix] = TensorPrimitives.Dot(tmp, aRow) + xt * gB;
                        dx[ix] = dt * gB;
                        var dBRow = new Span<T>(dB, o, n);
                        TensorPrimitives.MultiplyAdd(gh, dt * xt, dBRow, dBRow);

                        TensorPrimitives.Multiply(gh, decT, gh);
                    }
                }
            });
            Sum(dBParts, (T*)g[3]); Sum(dCParts, (T*)g[4]); Sum(dAParts, (T*)g[2]);
        }

        /// <summary>The explicit Vector512 row loops run when N is a whole number of 512-bit vectors (N = 16 in float32,
        /// 8 or 16 in float64); other N go through TensorPrimitives on spans.</summary>
        static bool Vectorised(int n) => Vector512.IsHardwareAccelerated && n % Vector512<T>.Count == 0 && n <= 8 * Vector512<T>.Count;

        static void ForwardRow512(int row, int b, int e, int time, int inner, int n, T* x, T* delta, T* bm, T* cm, T* y,
                                  T* h, T* dec, T* hs)
        {
            int w = Vector512<T>.Count;
            for (int t = 0; t < time; t++)
            {
                long bt = (long)b * time + t, ix = bt * inner + e;
                var dx = Vector512.Create(delta[ix] * x[ix]);
                T* bRow = bm + bt * n, cRow = cm + bt * n, decT = dec + (long)t * n;
                var acc = Vector512<T>.Zero;
                for (int k = 0; k < n; k += w)
                {
                    var hv = Vector512.Load(decT + k) * Vector512.Load(h + k) + Vector512.Load(bRow + k) * dx;
                    hv.Store(h + k);
                    if (hs is not null) hv.Store(hs + (long)t * n + k);
                    acc += Vector512.Load(cRow + k) * hv;
                }
                y[ix] = Vector512.Sum(acc);
            }
        }

        static void BackwardRow512(int b, int e, int time, int inner, int n, T* x, T* delta, T* aRow, T* bm, T* cm, T* h0,
                                   T* dy, T* dx, T* dDelta, T* g, T* dec, T* hs, T* dB, T* dC, T* dA)
        {
            int w = Vector512<T>.Count;
            for (int t = time - 1; t >= 0; t--)
            {
                long bt = (long)b * time + t, ix = bt * inner + e;
                T dt = delta[ix], xt = x[ix];
                var dyv = Vector512.Create(dy[ix]);
                var dtv = Vector512.Create(dt);
                var dtx = Vector512.Create(dt * xt);
                T* hT = hs + (long)t * n, hPrev = t > 0 ? hs + (long)(t - 1) * n : h0;
                T* bRow = bm + bt * n, cRow = cm + bt * n, decT = dec + (long)t * n, dBRow = dB + bt * n, dCRow = dC + bt * n;
                Vector512<T> accA = Vector512<T>.Zero, accB = Vector512<T>.Zero;
                for (int k = 0; k < n; k += w)
                {
                    var gv = Vector512.Load(g + k) + Vector512.Load(cRow + k) * dyv;
                    (Vector512.Load(dCRow + k) + Vector512.Load(hT + k) * dyv).Store(dCRow + k);
                    var decv = Vector512.Load(decT + k);
                    var tmp = gv * decv * Vector512.Load(hPrev + k);                    // g ⊙ a ⊙ h_{t−1}
                    (Vector512.Load(dA + k) + tmp * dtv).Store(dA + k);
                    accA += tmp * Vector512.Load(aRow + k);
                    accB += gv * Vector512.Load(bRow + k);
                    (Vector512.Load(dBRow + k) + gv * dtx).Store(dBRow + k);
                    (gv * decv).Store(g + k);
                }
                T gB = Vector512.Sum(accB);
                dDelta[ix] = Vector512.Sum(accA) + xt * gB;
                dx[ix] = dt * gB;
            }
        }

        static void Sum(T[][] parts, T* dest)
        {
            var span = new Span<T>(dest, parts[0].Length);
            parts[0].CopyTo(span);
            for (int i = 1; i < parts.Length; i++) TensorPrimitives.Add(span, parts[i], span);
        }
    }
}

static class TensorPointer
{
    /// <summary>Address of the first element of a contiguous CPU tensor (its storage offset included).</summary>
    public static unsafe nint Ptr(this Tensor t) =>
        t.NumberOfElements == 0 ? 0 : (nint)System.Runtime.CompilerServices.Unsafe.AsPointer(
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(t.bytes));
}
