using System.Numerics;
using ILGPU;

namespace ArchLab.Kernels.Gpu;

/// <summary>Sizes of a selective scan: x, Δ [Batch, Time, Inner], A [Inner, State], B, C [Batch, Time, State].</summary>
public readonly struct ScanShape(int batch, int time, int inner, int state)
{
    public readonly int Batch = batch, Time = time, Inner = inner, State = state;
}

/// <summary>Sizes of a WKV: k, v [Batch, Time, Channels], w, u [Channels], state tensors [Batch, Channels].</summary>
public readonly struct WkvShape(int batch, int time, int channels)
{
    public readonly int Batch = batch, Time = time, Channels = channels;
}

/// <summary>Sizes of <see cref="IlgpuScanKernels{T}.SumMiddle"/>: input [Outer, Middle, Inner] → output [Outer, Inner].</summary>
public readonly struct SumShape(int outer, int middle, int inner)
{
    public readonly int Outer = outer, Middle = middle, Inner = inner;
}

/// <summary>Buffers of the selective-scan forward (row-major, contiguous): inputs, then y [B,T,E] and h_T [B,E,N].</summary>
public struct ScanForwardViews<T> where T : unmanaged
{
    public ArrayView<T> X, Delta, A, B, C, H0, Y, Last;
}

/// <summary>Buffers of the selective-scan backward. <c>States</c> and <c>PartB</c> are scratch [B,E,T,N], <c>PartA</c>
/// scratch [B,E,N]; after the kernel <c>States</c> holds the per-(b, e) terms of dC and <c>PartB</c> those of dB.</summary>
public struct ScanBackwardViews<T> where T : unmanaged
{
    public ArrayView<T> X, Delta, A, B, C, H0, DY, DLast, DX, DDelta, DH0, States, PartB, PartA;
}

/// <summary>Buffers of the WKV forward: w, u [C]; k, v [B,T,C]; the state before (A0, B0, P0) and after (A, B, P) [B,C].</summary>
public struct WkvForwardViews<T> where T : unmanaged
{
    public ArrayView<T> W, U, K, V, A0, B0, P0, Y, A, B, P;
}

/// <summary>Buffers of the WKV backward. SA, SB, SP are scratch [B,T,C] (the state before each token); PartW, PartU
/// hold the per-(b, c) terms of dw and du [B,C].</summary>
public struct WkvBackwardViews<T> where T : unmanaged
{
    public ArrayView<T> W, U, K, V, A0, B0, P0, DY, DA, DB, DP, SA, SB, SP, DK, DV, DA0, DB0, DP0, PartW, PartU;
}

/// <summary>
/// ILGPU kernels for the recurrences ArchLab scans, forward and backward: Mamba's selective scan and RWKV-4's WKV here,
/// Mamba-2's SSD, RWKV-7's WKV and the gated delta rule in the other parts of this partial class (IlgpuScanKernels.*.cs);
/// generic over float and double (ILGPU compiles .NET generic math: <c>T.Exp</c> becomes <c>ex2.approx</c> in float32 PTX).
/// <para><b>Parallel layout.</b> One thread per independent channel: (b, e) for the scan, (b, c) for WKV, each looping over
/// time. The scan keeps the whole state h ∈ ℝ^N of its channel in that one thread (an inner loop over n), because
/// y_t = h_t·C_t and the Δ, x gradients are sums over n: one thread per (b, e, n) would need a cross-thread reduction per
/// token. The running h lives in the output buffer h_T (and the gradient in dh0), so the kernels need no local arrays and
/// work for any N. This is the simple, correct layout (as in BlinkDL's wkv_cuda.cu, one thread per channel); a tuned kernel
/// would put N in registers and chunk time.</para>
/// <para><b>Backward.</b> Each thread first recomputes its forward states into scratch memory, then walks time backwards.
/// Terms that are summed over other threads (dA over b; dB, dC over e; dw, du over b) are written per thread and added by
/// <see cref="SumMiddle"/> afterwards: no atomics, so results are deterministic on every accelerator.</para>
/// </summary>
public static partial class IlgpuScanKernels<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Selective scan forward for channel <paramref name="index"/> = b·E + e:
    /// h_t = exp(Δ_t A_e) ⊙ h_{t−1} + (Δ_t x_t) B_t, y_t = h_t·C_t; h runs in <c>Last</c>[b, e, :].
    /// </summary>
    public static void SelectiveScanForward(Index1D index, ScanShape s, ScanForwardViews<T> v)
    {
        int row = index;
        int b = row / s.Inner, e = row % s.Inner, n = s.State;
        long hBase = (long)row * n, aBase = (long)e * n;
        for (int i = 0; i < n; i++) v.Last[hBase + i] = v.H0[hBase + i];
        for (int t = 0; t < s.Time; t++)
        {
            long bt = (long)b * s.Time + t, ix = bt * s.Inner + e, bc = bt * n;
            T dt = v.Delta[ix];
            T drive = dt * v.X[ix];
            T acc = T.Zero;
            for (int i = 0; i < n; i++)
            {
                T h = T.Exp(dt * v.A[aBase + i]) * v.Last[hBase + i] + drive * v.B[bc + i];
                v.Last[hBase + i] = h;
                acc += h * v.C[bc + i];
            }
            v.Y[ix] = acc;
        }
    }

    /// <summary>
    /// Selective scan backward for channel (b, e). With g = ∂L/∂h_t carried from the future (starting at dh_T), for t = T−1…0:
    /// <code>
    ///   g    += dy_t C_t                      dC_t ← dy_t h_t            (this e's term)
    ///   dA_e += Δ_t (g ⊙ a_t ⊙ h_{t−1})       a_t = exp(Δ_t A_e)          (this b's term)
    ///   dΔ_t  = A_e·(g ⊙ a_t ⊙ h_{t−1}) + x_t (g·B_t)
    ///   dx_t  = Δ_t (g·B_t)                   dB_t ← Δ_t x_t g            (this e's term)
    ///   g     = a_t ⊙ g                       (→ dh0 after t = 0)
    /// </code>
    /// Pass 1 writes every h_t to <c>States</c>; pass 2 overwrites h_t with dy_t h_t once step t no longer needs it
    /// (step t reads h_t and h_{t−1}; steps after it only read earlier states).
    /// </summary>
    public static void SelectiveScanBackward(Index1D index, ScanShape s, ScanBackwardViews<T> v)
    {
        int row = index;
        int b = row / s.Inner, e = row % s.Inner, n = s.State;
        long hBase = (long)row * n, aBase = (long)e * n, sBase = (long)row * s.Time * n;
        for (int t = 0; t < s.Time; t++)
        {
            long bt = (long)b * s.Time + t, ix = bt * s.Inner + e, bc = bt * n, st = sBase + (long)t * n;
            T dt = v.Delta[ix];
            T drive = dt * v.X[ix];
            for (int i = 0; i < n; i++)
            {
                T prev = t == 0 ? v.H0[hBase + i] : v.States[st - n + i];
                v.States[st + i] = T.Exp(dt * v.A[aBase + i]) * prev + drive * v.B[bc + i];
            }
        }
        for (int i = 0; i < n; i++)
        {
            v.DH0[hBase + i] = v.DLast[hBase + i];
            v.PartA[hBase + i] = T.Zero;
        }
        for (int t = s.Time - 1; t >= 0; t--)
        {
            long bt = (long)b * s.Time + t, ix = bt * s.Inner + e, bc = bt * n, st = sBase + (long)t * n;
            T dt = v.Delta[ix], xt = v.X[ix], dyt = v.DY[ix];
            T dtx = dt * xt;
            T sumA = T.Zero, sumB = T.Zero;
            for (int i = 0; i < n; i++)
            {
                T g = v.DH0[hBase + i] + v.C[bc + i] * dyt;
                T prev = t == 0 ? v.H0[hBase + i] : v.States[st - n + i];
                T aN = v.A[aBase + i];
                T decay = T.Exp(dt * aN);
                T term = g * decay * prev;                                  // g ⊙ a_t ⊙ h_{t−1}
                v.PartA[hBase + i] += dt * term;
                sumA += term * aN;
                sumB += g * v.B[bc + i];
                v.PartB[st + i] = dtx * g;
                v.States[st + i] = dyt * v.States[st + i];                  // h_t → this e's term of dC_t
                v.DH0[hBase + i] = g * decay;
            }
            v.DDelta[ix] = sumA + xt * sumB;
            v.DX[ix] = dt * sumB;
        }
    }

    /// <summary>
    /// RWKV-4 WKV forward for channel <paramref name="index"/> = b·C + c in the stable form (BlinkDL's wkv_cuda.cu, and
    /// <see cref="Mixers.Rwkv4TimeMix"/>'s recurrence): the state (a, b, p) holds the numerator and denominator sums
    /// scaled by e^{−p}. Per token, with bonus u + k_t and decay w (negative):
    /// <code>
    ///   q  = max(p, u + k_t)     y_t = (e^{p−q} a + e^{u+k_t−q} v_t) / (e^{p−q} b + e^{u+k_t−q})
    ///   q' = max(p + w, k_t)     a ← e^{p+w−q'} a + e^{k_t−q'} v_t,  b ← e^{p+w−q'} b + e^{k_t−q'},  p ← q'
    /// </code>
    /// </summary>
    public static void WkvForward(Index1D index, WkvShape s, WkvForwardViews<T> v)
    {
        int row = index;
        int b = row / s.Channels, c = row % s.Channels;
        T w = v.W[c], u = v.U[c];
        T num = v.A0[row], den = v.B0[row], p = v.P0[row];
        for (int t = 0; t < s.Time; t++)
        {
            long ix = ((long)b * s.Time + t) * s.Channels + c;
            T k = v.K[ix], val = v.V[ix];
            T bonus = u + k;
            T q = T.Max(p, bonus);
            T e1 = T.Exp(p - q), e2 = T.Exp(bonus - q);
            v.Y[ix] = (e1 * num + e2 * val) / (e1 * den + e2);
            T decayed = w + p;
            T q2 = T.Max(decayed, k);
            T d1 = T.Exp(decayed - q2), d2 = T.Exp(k - q2);
            num = d1 * num + d2 * val;
            den = d1 * den + d2;
            p = q2;
        }
        v.A[row] = num;
        v.B[row] = den;
        v.P[row] = p;
    }

    /// <summary>
    /// RWKV-4 WKV backward for channel (b, c): reverse-mode through the stable recurrence of <see cref="WkvForward"/>,
    /// given dy and the gradient of the final state (da, db, dp). Pass 1 stores the state before each token in SA, SB, SP;
    /// pass 2 goes back in time. The max operators route their gradient to the branch that was taken (p + w ≥ k: the
    /// decayed state). The output y is invariant to its normaliser q (scaling numerator and denominator alike), so the
    /// gradient through q is exactly zero and is not formed. Returns dk, dv, the initial state's gradient, and the
    /// per-(b, c) terms of dw and du (summed over b by <see cref="SumMiddle"/>).
    /// </summary>
    public static void WkvBackward(Index1D index, WkvShape s, WkvBackwardViews<T> v)
    {
        int row = index;
        int b = row / s.Channels, c = row % s.Channels;
        T w = v.W[c], u = v.U[c];
        T num = v.A0[row], den = v.B0[row], p = v.P0[row];
        for (int t = 0; t < s.Time; t++)
        {
            long ix = ((long)b * s.Time + t) * s.Channels + c;
            v.SA[ix] = num; v.SB[ix] = den; v.SP[ix] = p;
            T k = v.K[ix];
            T decayed = w + p;
            T q2 = T.Max(decayed, k);
            T d1 = T.Exp(decayed - q2), d2 = T.Exp(k - q2);
            num = d1 * num + d2 * v.V[ix];
            den = d1 * den + d2;
            p = q2;
        }

        T gNum = v.DA[row], gDen = v.DB[row], gP = v.DP[row];
        T gW = T.Zero, gU = T.Zero;
        for (int t = s.Time - 1; t >= 0; t--)
        {
            long ix = ((long)b * s.Time + t) * s.Channels + c;
            T a0 = v.SA[ix], b0 = v.SB[ix], p0 = v.SP[ix];
            T k = v.K[ix], val = v.V[ix], gy = v.DY[ix];

            // State update: a' = d1 a + d2 v, b' = d1 b + d2, p' = q' = max(p + w, k).
            T decayed = w + p0;
            T q2 = T.Max(decayed, k);
            T d1 = T.Exp(decayed - q2), d2 = T.Exp(k - q2);
            T gD1 = gNum * a0 + gDen * b0;
            T gD2 = gNum * val + gDen;
            T gQ2 = gP - gD1 * d1 - gD2 * d2;
            T gDecayed = gD1 * d1, gK = gD2 * d2;
            if (decayed >= k) gDecayed += gQ2;
            else gK += gQ2;
            T gV = gNum * d2;
            T gNumPrev = gNum * d1, gDenPrev = gDen * d1, gPPrev = gDecayed;
            gW += gDecayed;

            // Output: y = (e1 a + e2 v) / (e1 b + e2), e1 = e^{p−q}, e2 = e^{u+k−q}.
            T bonus = u + k;
            T q = T.Max(p0, bonus);
            T e1 = T.Exp(p0 - q), e2 = T.Exp(bonus - q);
            T denominator = e1 * b0 + e2;
            T y = (e1 * a0 + e2 * val) / denominator;
            T gOutNum = gy / denominator;
            T gOutDen = -gOutNum * y;
            gNumPrev += gOutNum * e1;
            gDenPrev += gOutDen * e1;
            gV += gOutNum * e2;
            gPPrev += (gOutNum * a0 + gOutDen * b0) * e1;                    // ∂y/∂e1 · e1
            T gBonus = (gOutNum * val + gOutDen) * e2;                       // ∂y/∂e2 · e2
            gU += gBonus;
            gK += gBonus;

            v.DK[ix] = gK;
            v.DV[ix] = gV;
            gNum = gNumPrev; gDen = gDenPrev; gP = gPPrev;
        }
        v.DA0[row] = gNum;
        v.DB0[row] = gDen;
        v.DP0[row] = gP;
        v.PartW[row] = gW;
        v.PartU[row] = gU;
    }

    /// <summary>output[o, i] = Σ_m input[o, m, i], one thread per output element, summed in order m = 0, 1, … (deterministic).</summary>
    public static void SumMiddle(Index1D index, SumShape s, ArrayView<T> input, ArrayView<T> output)
    {
        int flat = index;
        long o = flat / s.Inner, i = flat % s.Inner;
        T acc = T.Zero;
        for (int m = 0; m < s.Middle; m++) acc += input[(o * s.Middle + m) * s.Inner + i];
        output[flat] = acc;
    }
}
