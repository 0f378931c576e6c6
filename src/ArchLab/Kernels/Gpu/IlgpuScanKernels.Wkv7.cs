using System.Numerics;
using ILGPU;

namespace ArchLab.Kernels.Gpu;

/// <summary>Sizes of an RWKV-7 WKV: r, log w, k, v, a, b [Batch, Time, Heads, HeadSize], the state S [Batch, Heads,
/// HeadSize (value index i), HeadSize (key index j)].</summary>
public readonly struct Wkv7Shape(int batch, int time, int heads, int headSize)
{
    public readonly int Batch = batch, Time = time, Heads = heads, HeadSize = headSize;
}

/// <summary>Buffers of the RWKV-7 WKV forward (row-major, contiguous): inputs, then y [B,T,H,N] and S_T [B,H,N,N].</summary>
public struct Wkv7ForwardViews<T> where T : unmanaged
{
    public ArrayView<T> R, LogW, K, V, A, B, S0, Y, Last;
}

/// <summary>Buffers of the RWKV-7 WKV backward. <c>States</c>, <c>PartW</c>, <c>PartK</c>, <c>PartA</c>, <c>PartB</c> are
/// scratch [B,T,H,N(i),N(j)]: after the kernel they hold the per-row (value index i) terms of dr, dlog w, dk, da and db,
/// summed over i afterwards. dv [B,T,H,N] and dS0 [B,H,N,N] belong to one row each and are written directly.</summary>
public struct Wkv7BackwardViews<T> where T : unmanaged
{
    public ArrayView<T> R, LogW, K, V, A, B, S0, DY, DLast, DV, DS0, States, PartW, PartK, PartA, PartB;
}

public static partial class IlgpuScanKernels<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// RWKV-7 WKV forward (<see cref="Reference.Wkv7Reference"/>) for the state row <paramref name="index"/> = (b·H + h)·N + i,
    /// the row s = S[b, h, i, :] (value index i): per token, with w_t = exp(log w_t),
    /// s ← s ⊙ w_t + (s·a_t) b_t + v_t[i] k_t, y_t[i] = s·r_t; s runs in <c>Last</c>[b, h, i, :].
    /// </summary>
    public static void Wkv7Forward(Index1D index, Wkv7Shape s, Wkv7ForwardViews<T> v)
    {
        int row = index;
        int n = s.HeadSize, b = row / (s.Heads * n), h = row / n % s.Heads, i = row % n;
        long sBase = (long)row * n;
        for (int j = 0; j < n; j++) v.Last[sBase + j] = v.S0[sBase + j];
        for (int t = 0; t < s.Time; t++)
        {
            long head = (((long)b * s.Time + t) * s.Heads + h) * n;          // [b, t, h, 0]
            T removed = T.Zero;
            for (int j = 0; j < n; j++) removed += v.Last[sBase + j] * v.A[head + j];
            T value = v.V[head + i];
            T acc = T.Zero;
            for (int j = 0; j < n; j++)
            {
                T state = v.Last[sBase + j] * T.Exp(v.LogW[head + j]) + removed * v.B[head + j] + value * v.K[head + j];
                v.Last[sBase + j] = state;
                acc += state * v.R[head + j];
            }
            v.Y[head + i] = acc;
        }
    }

    /// <summary>
    /// RWKV-7 WKV backward for the state row (b, h, i). With g = ∂L/∂s_t carried from the future (starting at dS_T), for
    /// t = T−1…0, where w = exp(log w_t), σ = s_{t−1}·a_t and γ = g·b_t (after the first line):
    /// <code>
    ///   g   += dy_t[i] r_t            dr_t ← dy_t[i] s_t           (this i's term, as are the four below)
    ///   dv_t[i] = g·k_t               dk_t ← v_t[i] g
    ///   dlog w_t ← g ⊙ s_{t−1} ⊙ w    da_t ← γ s_{t−1}        db_t ← σ g
    ///   g    = g ⊙ w + γ a_t          (→ dS0 after t = 0)
    /// </code>
    /// Pass 1 writes every s_t to <c>States</c>; pass 2 overwrites s_t with dy_t[i] s_t once step t no longer needs it.
    /// </summary>
    public static void Wkv7Backward(Index1D index, Wkv7Shape s, Wkv7BackwardViews<T> v)
    {
        int row = index;
        int n = s.HeadSize, b = row / (s.Heads * n), h = row / n % s.Heads, i = row % n;
        long sBase = (long)row * n, stepStride = (long)s.Heads * n * n;
        for (int t = 0; t < s.Time; t++)
        {
            long head = (((long)b * s.Time + t) * s.Heads + h) * n, st = (head + i) * n;
            T removed = T.Zero;
            for (int j = 0; j < n; j++) removed += (t == 0 ? v.S0[sBase + j] : v.States[st - stepStride + j]) * v.A[head + j];
            T value = v.V[head + i];
            for (int j = 0; j < n; j++)
            {
                T prev = t == 0 ? v.S0[sBase + j] : v.States[st - stepStride + j];
                v.States[st + j] = prev * T.Exp(v.LogW[head + j]) + removed * v.B[head + j] + value * v.K[head + j];
            }
        }
        for (int j = 0; j < n; j++) v.DS0[sBase + j] = v.DLast[sBase + j];
        for (int t = s.Time - 1; t >= 0; t--)
        {
            long head = (((long)b * s.Time + t) * s.Heads + h) * n, st = (head + i) * n;
            T dy = v.DY[head + i], value = v.V[head + i];
            T removed = T.Zero, gB = T.Zero, gK = T.Zero;
            for (int j = 0; j < n; j++)
            {
                T g = v.DS0[sBase + j] + dy * v.R[head + j];
                v.DS0[sBase + j] = g;
                removed += (t == 0 ? v.S0[sBase + j] : v.States[st - stepStride + j]) * v.A[head + j];
                gB += g * v.B[head + j];
                gK += g * v.K[head + j];
            }
            v.DV[head + i] = gK;
            for (int j = 0; j < n; j++)
            {
                T g = v.DS0[sBase + j];
                T prev = t == 0 ? v.S0[sBase + j] : v.States[st - stepStride + j];
                T w = T.Exp(v.LogW[head + j]);
                v.PartW[st + j] = g * prev * w;
                v.PartK[st + j] = value * g;
                v.PartA[st + j] = gB * prev;
                v.PartB[st + j] = removed * g;
                v.States[st + j] = dy * v.States[st + j];                   // s_t → this i's term of dr_t
                v.DS0[sBase + j] = g * w + gB * v.A[head + j];
            }
        }
    }
}
