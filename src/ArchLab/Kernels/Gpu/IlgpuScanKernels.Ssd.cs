using System.Numerics;
using ILGPU;

namespace ArchLab.Kernels.Gpu;

/// <summary>Sizes of a Mamba-2 SSD scan: x [Batch, Time, Heads, HeadDim], Δ [Batch, Time, Heads], A [Heads],
/// B, C [Batch, Time, Heads, State], the state S [Batch, Heads, HeadDim, State].</summary>
public readonly struct SsdShape(int batch, int time, int heads, int headDim, int state)
{
    public readonly int Batch = batch, Time = time, Heads = heads, HeadDim = headDim, State = state;
}

/// <summary>Buffers of the SSD forward (row-major, contiguous): inputs, then y [B,T,H,P] and S_T [B,H,P,N].</summary>
public struct SsdForwardViews<T> where T : unmanaged
{
    public ArrayView<T> X, Dt, A, B, C, S0, Y, Last;
}

/// <summary>Buffers of the SSD backward. <c>States</c> and <c>PartB</c> are scratch [B,T,H,P,N]: after the kernel
/// <c>States</c> holds the per-(b, h, p) terms of dC and <c>PartB</c> those of dB (summed over p); <c>PartDt</c> [B,T,H,P]
/// holds the terms of dΔ (summed over p), <c>PartA</c> [B,H,P] those of dA (summed over b and p).</summary>
public struct SsdBackwardViews<T> where T : unmanaged
{
    public ArrayView<T> X, Dt, A, B, C, S0, DY, DLast, DX, DS0, States, PartB, PartDt, PartA;
}

public static partial class IlgpuScanKernels<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Mamba-2 SSD forward (<see cref="Reference.SsdReference"/>) for the state row <paramref name="index"/> = (b·H + h)·P + p,
    /// the row S[b, h, p, :] ∈ ℝ^N: with the head's scalar decay d_t = exp(Δ_t A_h),
    /// s_t = d_t s_{t−1} + (Δ_t x_t[p]) B_t, y_t[p] = s_t·C_t; s runs in <c>Last</c>[b, h, p, :].
    /// </summary>
    public static void SsdForward(Index1D index, SsdShape s, SsdForwardViews<T> v)
    {
        int row = index;
        int n = s.State, b = row / (s.Heads * s.HeadDim), h = row / s.HeadDim % s.Heads, p = row % s.HeadDim;
        long sBase = (long)row * n;
        for (int i = 0; i < n; i++) v.Last[sBase + i] = v.S0[sBase + i];
        T a = v.A[h];
        for (int t = 0; t < s.Time; t++)
        {
            long head = ((long)b * s.Time + t) * s.Heads + h, ix = head * s.HeadDim + p, bc = head * n;
            T dt = v.Dt[head];
            T decay = T.Exp(dt * a), drive = dt * v.X[ix];
            T acc = T.Zero;
            for (int i = 0; i < n; i++)
            {
                T state = decay * v.Last[sBase + i] + drive * v.B[bc + i];
                v.Last[sBase + i] = state;
                acc += state * v.C[bc + i];
            }
            v.Y[ix] = acc;
        }
    }

    /// <summary>
    /// Mamba-2 SSD backward for the state row (b, h, p). With g = ∂L/∂s_t carried from the future (starting at dS_T), for
    /// t = T−1…0, where d_t = exp(Δ_t A_h) and the drive is Δ_t x_t[p]:
    /// <code>
    ///   g    += dy_t[p] C_t                       dC_t ← dy_t[p] s_t          (this p's term)
    ///   dx_t[p] = Δ_t (g·B_t)                     dB_t ← Δ_t x_t[p] g         (this p's term)
    ///   dΔ_t ← A_h d_t (g·s_{t−1}) + x_t[p] (g·B_t)   dA_h ← Δ_t d_t (g·s_{t−1})   (this p's, and b's, terms)
    ///   g     = d_t g                             (→ dS0 after t = 0)
    /// </code>
    /// Pass 1 writes every s_t to <c>States</c> (in the [B,T,H,P,N] layout of dC's terms); pass 2 overwrites s_t with
    /// dy_t[p] s_t once step t no longer needs it (step t reads s_t and s_{t−1}; later steps only earlier states).
    /// </summary>
    public static void SsdBackward(Index1D index, SsdShape s, SsdBackwardViews<T> v)
    {
        int row = index;
        int n = s.State, b = row / (s.Heads * s.HeadDim), h = row / s.HeadDim % s.Heads, p = row % s.HeadDim;
        long sBase = (long)row * n, stepStride = (long)s.Heads * s.HeadDim * n;
        T a = v.A[h];
        for (int t = 0; t < s.Time; t++)
        {
            long head = ((long)b * s.Time + t) * s.Heads + h, ix = head * s.HeadDim + p, bc = head * n, st = ix * n;
            T dt = v.Dt[head];
            T decay = T.Exp(dt * a), drive = dt * v.X[ix];
            for (int i = 0; i < n; i++)
            {
                T prev = t == 0 ? v.S0[sBase + i] : v.States[st - stepStride + i];
                v.States[st + i] = decay * prev + drive * v.B[bc + i];
            }
        }
        for (int i = 0; i < n; i++) v.DS0[sBase + i] = v.DLast[sBase + i];
        T partA = T.Zero;
        for (int t = s.Time - 1; t >= 0; t--)
        {
            long head = ((long)b * s.Time + t) * s.Heads + h, ix = head * s.HeadDim + p, bc = head * n, st = ix * n;
            T dt = v.Dt[head], xt = v.X[ix], dyt = v.DY[ix];
            T decay = T.Exp(dt * a), drive = dt * xt;
            T sumPrev = T.Zero, sumB = T.Zero;
            for (int i = 0; i < n; i++)
            {
                T g = v.DS0[sBase + i] + dyt * v.C[bc + i];
                T prev = t == 0 ? v.S0[sBase + i] : v.States[st - stepStride + i];
                sumPrev += g * prev;
                sumB += g * v.B[bc + i];
                v.PartB[st + i] = drive * g;
                v.States[st + i] = dyt * v.States[st + i];                  // s_t → this p's term of dC_t
                v.DS0[sBase + i] = decay * g;
            }
            v.PartDt[ix] = a * decay * sumPrev + xt * sumB;
            v.DX[ix] = dt * sumB;
            partA += dt * decay * sumPrev;
        }
        v.PartA[row] = partA;
    }
}
