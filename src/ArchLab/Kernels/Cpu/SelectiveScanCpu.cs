using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Cpu;

/// <summary>
/// Fused CPU selective scan (see <see cref="SelectiveScan"/> for the equations) with a hand-written backward, on the raw
/// memory of contiguous float32 / float64 CPU tensors.
/// <para>Vectorised over the state dimension N with 256-bit vectors (N = 16 float32 is two vectors); an N that is not a
/// whole number of vectors is zero-padded (A, B, C, h0 padded with zeros keep the padded lanes at zero).
/// Parallel over the B·E independent (b, e) rows in a fixed list of tasks, each task one b and a range of e.</para>
/// <para>Memory: the forward keeps only one state per row every <see cref="CheckpointEvery"/> steps (B·E·⌈T/K⌉·N values)
/// instead of every h_t; the backward recomputes each block of K steps from its checkpoint into a small per-task buffer
/// (decays and states, K·N each, in L1) and then walks the block backwards, as the official CUDA kernel recomputes
/// its chunks. The exp is computed twice (forward and recompute), the state never travels through memory.</para>
/// Backward, reverse time, with g = ∂L/∂h_t accumulated from the future:
/// <code>
///   g    += dy_t C_t                     dC_t += dy_t h_t        (summed over e)
///   dA_e += Δ_t (g ⊙ a_t ⊙ h_{t−1})      a_t = exp(Δ_t A_e)        (summed over b)
///   dΔ_t  = A_e·(g ⊙ a_t ⊙ h_{t−1}) + x_t (g·B_t)
///   dx_t  = Δ_t (g·B_t)                  dB_t += Δ_t x_t g        (summed over e)
///   g     = a_t ⊙ g                      (→ dh0 after t = 0)
/// </code>
/// The sums over e go to per-task buffers and the sums over b to per-row buffers, added in a fixed order at the end
/// (no races, results independent of thread timing).
/// </summary>
public static class SelectiveScanCpu
{
    /// <summary>Steps between the states kept for the backward (K).</summary>
    public const int CheckpointEvery = 64;

    /// <summary>True when the kernel can run these tensors: all on the CPU and all float32 or all float64.</summary>
    public static bool Supports(Tensor x, Tensor delta, Tensor a, Tensor bIn, Tensor cIn, Tensor? h0) =>
        TensorPointer.AllCpu(x.dtype, x, delta, a, bIn, cIn, h0) && x.dim() == 3 && a.dim() == 2;

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

    /// <summary>N rounded up to whole 256-bit vectors of the dtype.</summary>
    static long Padded(long n, ScalarType dtype)
    {
        long w = dtype == ScalarType.Float32 ? Vector256<float>.Count : Vector256<double>.Count;
        return (n + w - 1) / w * w;
    }

    static Tensor PadLast(Tensor t, long to) =>
        t.shape[^1] == to ? t.contiguous() : nn.functional.pad(t, [0, to - t.shape[^1]]).contiguous();

    sealed class ScanFunction : autograd.MultiTensorFunction<ScanFunction>
    {
        public override string Name => "SelectiveScanCpu";

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            bool needsGrad = (bool)vars[6];
            var (x, delta) = (((Tensor)vars[0]).contiguous(), ((Tensor)vars[1]).contiguous());
            long batch = x.shape[0], time = x.shape[1], inner = x.shape[2], state = ((Tensor)vars[2]).shape[1];
            long padded = Padded(state, x.dtype);
            var (a, bIn, cIn, h0) = (PadLast((Tensor)vars[2], padded), PadLast((Tensor)vars[3], padded),
                                     PadLast((Tensor)vars[4], padded), PadLast((Tensor)vars[5], padded));
            var y = empty(batch, time, inner, dtype: x.dtype);
            var last = empty(batch, inner, padded, dtype: x.dtype);
            var dims = new Dims(batch, time, inner, padded);
            nint[] p = [x.Ptr(), delta.Ptr(), a.Ptr(), bIn.Ptr(), cIn.Ptr(), h0.Ptr()];
            object? checkpoints = x.dtype == ScalarType.Float32
                ? Kernel<float>.Forward(dims, p, y.Ptr(), last.Ptr(), needsGrad)
                : Kernel<double>.Forward(dims, p, y.Ptr(), last.Ptr(), needsGrad);
            if (needsGrad)
            {
                // An unused output's gradient arrives undefined (backward substitutes zeros): TorchSharp's own
                // materialisation would read the output's managed wrapper, which the caller's dispose scope may have freed.
                ctx.set_materialize_grads(false);
                ctx.save_for_backward([x, delta, a, bIn, cIn, h0]);
                ctx.save_data("checkpoints", checkpoints!);
                ctx.save_data("state", state);
            }
            return [y, padded == state ? last : last.narrow(2, 0, state).contiguous()];
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
        {
            var saved = ctx.get_saved_variables();
            var checkpoints = ctx.get_data("checkpoints") ?? throw new InvalidOperationException("selective scan: no checkpoints saved for backward");
            long state = (long)ctx.get_data("state")!;
            var (x, delta, a, bIn, cIn, h0) = (saved[0], saved[1], saved[2], saved[3], saved[4], saved[5]);
            long batch = x.shape[0], time = x.shape[1], inner = x.shape[2], padded = a.shape[1];
            var dims = new Dims(batch, time, inner, padded);
            var dy = (gradOutputs[0] is { } g0 && !g0.IsInvalid ? g0 : zeros_like(x)).to(x.dtype).contiguous();
            var dLast = PadLast(gradOutputs[1] is { } g1 && !g1.IsInvalid ? g1.to(x.dtype) : zeros(batch, inner, state, dtype: x.dtype), padded);
            var grads = new[] { empty_like(x), empty_like(delta), empty_like(a), empty_like(bIn), empty_like(cIn), empty_like(h0) };
            nint[] p = [x.Ptr(), delta.Ptr(), a.Ptr(), bIn.Ptr(), cIn.Ptr(), h0.Ptr()];
            var gp = grads.Select(t => t.Ptr()).ToArray();
            if (x.dtype == ScalarType.Float32)
                Kernel<float>.Backward(dims, p, (float[])checkpoints, dy.Ptr(), dLast.Ptr(), gp);
            else
                Kernel<double>.Backward(dims, p, (double[])checkpoints, dy.Ptr(), dLast.Ptr(), gp);
            foreach (var t in saved) t.Dispose();
            if (padded != state)
                for (int i = 2; i < 6; i++) grads[i] = grads[i].narrow(-1, 0, state).contiguous();
            return [.. grads, null!];                                                 // none for the needsGrad flag
        }
    }

    /// <summary>Sizes (State is N padded to whole vectors) and the task split: task = (b, a range of e).</summary>
    readonly record struct Dims(long Batch, long Time, long Inner, long State)
    {
        public int Rows => checked((int)(Batch * Inner));
        public int Blocks => (int)((Time + CheckpointEvery - 1) / CheckpointEvery);
        public int TasksPerBatch => Math.Max(1, Math.Min((int)Inner, (KernelGrain.TasksFor(Rows) + (int)Batch - 1) / (int)Batch));
        public int Tasks => (int)Batch * TasksPerBatch;
        /// <summary>Task i: batch index b and channels [start, end).</summary>
        public (int B, int Start, int End) Task(int i)
        {
            int b = i / TasksPerBatch, g = i % TasksPerBatch;
            return (b, (int)(Inner * g / TasksPerBatch), (int)(Inner * (g + 1) / TasksPerBatch));
        }
    }

    static unsafe class Kernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        static int W => Vector256<T>.Count;

        /// <summary>Inputs p = [x, Δ, A, B, C, h0] (A, B, C, h0 padded to N). Returns the block checkpoints when
        /// <paramref name="keep"/>: [rows, blocks, N], the state entering each block of <see cref="CheckpointEvery"/> steps.</summary>
        public static T[]? Forward(Dims d, nint[] p, nint yPtr, nint lastPtr, bool keep)
        {
            int time = (int)d.Time, inner = (int)d.Inner, n = (int)d.State, nv = n / W, blocks = d.Blocks;
            var checkpoints = keep ? GC.AllocateUninitializedArray<T>(checked(d.Rows * blocks * n), pinned: true) : null;
            nint chkBase = checkpoints is null ? 0 : (nint)SimdMath<T>.Address(checkpoints);
            KernelGrain.Run(d.Tasks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (task) =>
            {
                T* x = (T*)p[0], delta = (T*)p[1], a = (T*)p[2], bm = (T*)p[3], cm = (T*)p[4], h0 = (T*)p[5];
                T* y = (T*)yPtr, last = (T*)lastPtr, chk = (T*)chkBase;
                var (b, start, end) = d.Task(task);
                Vector256<T>* h = stackalloc Vector256<T>[nv];
                Vector256<T>* av = stackalloc Vector256<T>[nv];
                for (int e = start; e < end; e++)
                {
                    long row = (long)b * inner + e;
                    for (int j = 0; j < nv; j++)
                    {
                        h[j] = Vector256.Load(h0 + row * n + j * W);
                        av[j] = Vector256.Load(a + (long)e * n + j * W);
                    }
                    T* xr = x + (long)b * time * inner + e, dr = delta + (long)b * time * inner + e, yr = y + (long)b * time * inner + e;
                    T* br = bm + (long)b * time * n, cr = cm + (long)b * time * n;
                    for (int t = 0; t < time; t++)
                    {
                        if (chk != null && t % CheckpointEvery == 0)
                        {
                            T* c = chk + (row * blocks + t / CheckpointEvery) * n;
                            for (int j = 0; j < nv; j++) h[j].Store(c + j * W);
                        }
                        long ix = (long)t * inner;
                        T dt = dr[ix];
                        var vdt = Vector256.Create(dt);
                        var vdtx = Vector256.Create(dt * xr[ix]);
                        T* bt = br + (long)t * n, ct = cr + (long)t * n;
                        var acc = Vector256<T>.Zero;
                        for (int j = 0; j < nv; j++)
                        {
                            var hv = SimdMath<T>.Fma(SimdMath<T>.Exp(vdt * av[j]), h[j], vdtx * Vector256.Load(bt + j * W));
                            h[j] = hv;
                            acc = SimdMath<T>.Fma(hv, Vector256.Load(ct + j * W), acc);
                        }
                        yr[ix] = Vector256.Sum(acc);
                    }
                    for (int j = 0; j < nv; j++) h[j].Store(last + row * n + j * W);
                }
            });
            return checkpoints;
        }

        /// <summary>Gradients g = [dx, dΔ, dA, dB, dC, dh0] (A, B, C, h0 padded) written through their pointers.</summary>
        public static void Backward(Dims d, nint[] p, T[] checkpoints, nint dyPtr, nint dLastPtr, nint[] g)
        {
            int time = (int)d.Time, inner = (int)d.Inner, n = (int)d.State, nv = n / W, blocks = d.Blocks, batch = (int)d.Batch;
            long tn = (long)time * n;
            var dBParts = GC.AllocateArray<T>(checked((int)(d.Tasks * tn)), pinned: true);   // zeroed: accumulated into
            var dCParts = GC.AllocateArray<T>(checked((int)(d.Tasks * tn)), pinned: true);
            var dAParts = GC.AllocateUninitializedArray<T>(checked(d.Rows * n), pinned: true);  // every row writes its own
            nint dBBase = (nint)SimdMath<T>.Address(dBParts), dCBase = (nint)SimdMath<T>.Address(dCParts);
            nint dABase = (nint)SimdMath<T>.Address(dAParts), chkBase = (nint)SimdMath<T>.Address(checkpoints);
            KernelGrain.Run(d.Tasks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (task) =>
            {
                T* x = (T*)p[0], delta = (T*)p[1], a = (T*)p[2], bm = (T*)p[3], cm = (T*)p[4];
                T* dy = (T*)dyPtr, dLast = (T*)dLastPtr, dx = (T*)g[0], dDelta = (T*)g[1], dh0 = (T*)g[5];
                T* chk = (T*)chkBase;
                T* dB = (T*)dBBase + task * tn, dC = (T*)dCBase + task * tn;
                var (b, start, end) = d.Task(task);
                T* hBuf = SimdMath<T>.Scratch((long)CheckpointEvery * n, out var hKeep);
                T* decBuf = SimdMath<T>.Scratch((long)CheckpointEvery * n, out var decKeep);
                Vector256<T>* gv = stackalloc Vector256<T>[nv];
                Vector256<T>* av = stackalloc Vector256<T>[nv];
                Vector256<T>* dAacc = stackalloc Vector256<T>[nv];
                Vector256<T>* h = stackalloc Vector256<T>[nv];
                long bOff = (long)b * time * inner;
                T* br = bm + (long)b * tn, cr = cm + (long)b * tn;
                for (int e = start; e < end; e++)
                {
                    long row = (long)b * inner + e;
                    for (int j = 0; j < nv; j++)
                    {
                        gv[j] = Vector256.Load(dLast + row * n + j * W);
                        av[j] = Vector256.Load(a + (long)e * n + j * W);
                        dAacc[j] = Vector256<T>.Zero;
                    }
                    T* xr = x + bOff + e, dr = delta + bOff + e, dyr = dy + bOff + e, dxr = dx + bOff + e, ddr = dDelta + bOff + e;
                    for (int blk = blocks - 1; blk >= 0; blk--)
                    {
                        int t0 = blk * CheckpointEvery, t1 = Math.Min(time, t0 + CheckpointEvery);
                        T* hStart = chk + (row * blocks + blk) * n;
                        for (int j = 0; j < nv; j++) h[j] = Vector256.Load(hStart + j * W);
                        for (int t = t0; t < t1; t++)                                       // recompute the block
                        {
                            long ix = (long)t * inner;
                            T dt = dr[ix];
                            var vdt = Vector256.Create(dt);
                            var vdtx = Vector256.Create(dt * xr[ix]);
                            T* bt = br + (long)t * n, hs = hBuf + (t - t0) * n, ds = decBuf + (t - t0) * n;
                            for (int j = 0; j < nv; j++)
                            {
                                var dec = SimdMath<T>.Exp(vdt * av[j]);
                                dec.Store(ds + j * W);
                                h[j] = SimdMath<T>.Fma(dec, h[j], vdtx * Vector256.Load(bt + j * W));
                                h[j].Store(hs + j * W);
                            }
                        }
                        for (int t = t1 - 1; t >= t0; t--)                                  // and walk it backwards
                        {
                            long ix = (long)t * inner;
                            T dt = dr[ix], xt = xr[ix];
                            var vdy = Vector256.Create(dyr[ix]);
                            var vdt = Vector256.Create(dt);
                            var vdtx = Vector256.Create(dt * xt);
                            T* hT = hBuf + (t - t0) * n, hP = t > t0 ? hT - n : hStart, ds = decBuf + (t - t0) * n;
                            T* bt = br + (long)t * n, ct = cr + (long)t * n, dBt = dB + (long)t * n, dCt = dC + (long)t * n;
                            Vector256<T> accA = Vector256<T>.Zero, accB = Vector256<T>.Zero;
                            for (int j = 0; j < nv; j++)
                            {
                                int o = j * W;
                                var gj = SimdMath<T>.Fma(Vector256.Load(ct + o), vdy, gv[j]);
                                SimdMath<T>.Fma(Vector256.Load(hT + o), vdy, Vector256.Load(dCt + o)).Store(dCt + o);
                                var dec = Vector256.Load(ds + o);
                                var tmp = gj * dec * Vector256.Load(hP + o);                  // g ⊙ a ⊙ h_{t−1}
                                dAacc[j] = SimdMath<T>.Fma(tmp, vdt, dAacc[j]);
                                accA = SimdMath<T>.Fma(tmp, av[j], accA);
                                accB = SimdMath<T>.Fma(gj, Vector256.Load(bt + o), accB);
                                SimdMath<T>.Fma(gj, vdtx, Vector256.Load(dBt + o)).Store(dBt + o);
                                gv[j] = gj * dec;
                            }
                            T gB = Vector256.Sum(accB);
                            ddr[ix] = Vector256.Sum(accA) + xt * gB;
                            dxr[ix] = dt * gB;
                        }
                    }
                    for (int j = 0; j < nv; j++)
                    {
                        gv[j].Store(dh0 + row * n + j * W);
                        dAacc[j].Store((T*)dABase + row * n + j * W);
                    }
                }
                GC.KeepAlive(hKeep); GC.KeepAlive(decKeep);
            });
            // dB[b], dC[b] = Σ over b's tasks; dA[e] = Σ over b of the rows' parts. Fixed order: deterministic.
            int perBatch = d.TasksPerBatch;
            for (int b = 0; b < batch; b++)
            {
                var dBDest = new Span<T>((T*)g[3] + (long)b * tn, (int)tn);
                var dCDest = new Span<T>((T*)g[4] + (long)b * tn, (int)tn);
                new ReadOnlySpan<T>(dBParts, (int)(b * perBatch * tn), (int)tn).CopyTo(dBDest);
                new ReadOnlySpan<T>(dCParts, (int)(b * perBatch * tn), (int)tn).CopyTo(dCDest);
                for (int k = 1; k < perBatch; k++)
                {
                    System.Numerics.Tensors.TensorPrimitives.Add(dBDest, new ReadOnlySpan<T>(dBParts, (int)((b * perBatch + k) * tn), (int)tn), dBDest);
                    System.Numerics.Tensors.TensorPrimitives.Add(dCDest, new ReadOnlySpan<T>(dCParts, (int)((b * perBatch + k) * tn), (int)tn), dCDest);
                }
            }
            int en = inner * n;
            var dADest = new Span<T>((T*)g[2], en);
            new ReadOnlySpan<T>(dAParts, 0, en).CopyTo(dADest);
            for (int b = 1; b < batch; b++)
                System.Numerics.Tensors.TensorPrimitives.Add(dADest, new ReadOnlySpan<T>(dAParts, b * en, en), dADest);
        }
    }
}
