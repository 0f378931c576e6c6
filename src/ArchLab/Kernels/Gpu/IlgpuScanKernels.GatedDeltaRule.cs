using System.Numerics;
using ILGPU;

namespace ArchLab.Kernels.Gpu;

/// <summary>Sizes of a gated delta rule: q, k [Batch, Heads, Time, KeyDim], v [Batch, Heads, Time, ValueDim],
/// g, β [Batch, Heads, Time], the state S [Batch, Heads, KeyDim, ValueDim].</summary>
public readonly struct DeltaRuleShape(int batch, int heads, int time, int keyDim, int valueDim)
{
    public readonly int Batch = batch, Heads = heads, Time = time, KeyDim = keyDim, ValueDim = valueDim;
}

/// <summary>Buffers of the gated-delta-rule forward (row-major, contiguous): inputs, then o [B,H,T,V] and S_T [B,H,K,V].</summary>
public struct DeltaRuleForwardViews<T> where T : unmanaged
{
    public ArrayView<T> Q, K, V, G, Beta, S0, O, Last;
}

/// <summary>Buffers of the gated-delta-rule backward. <c>States</c> and <c>PartK</c> are scratch [B,H,T,V,K]: after the
/// kernel they hold the per-column (value index j) terms of dq and dk, summed over j afterwards; <c>PartG</c> and
/// <c>PartBeta</c> [B,H,T,V] those of dg and dβ. dv [B,H,T,V] and dS0 [B,H,K,V] are written directly.</summary>
public struct DeltaRuleBackwardViews<T> where T : unmanaged
{
    public ArrayView<T> Q, K, V, G, Beta, S0, DO, DLast, DV, DS0, States, PartK, PartG, PartBeta;
}

public static partial class IlgpuScanKernels<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Gated delta rule forward (<see cref="Reference.GatedDeltaRuleReference"/>) for <paramref name="index"/> = (b·H + h)·V + j,
    /// the state column s = S[b, h, :, j] ∈ ℝ^K (value index j; stride V in memory): per token, with α_t = exp(g_t),
    /// s ← α_t s, u = β_t (v_t[j] − s·k_t), s ← s + u k_t, o_t[j] = s·q_t; s runs in <c>Last</c>[b, h, :, j].
    /// </summary>
    public static void GatedDeltaRuleForward(Index1D index, DeltaRuleShape s, DeltaRuleForwardViews<T> v)
    {
        int row = index;
        int kd = s.KeyDim, vd = s.ValueDim, bh = row / vd, j = row % vd;
        long sBase = (long)bh * kd * vd + j;                                 // S[b, h, 0, j]; element kk at + kk·V
        for (int kk = 0; kk < kd; kk++) v.Last[sBase + (long)kk * vd] = v.S0[sBase + (long)kk * vd];
        for (int t = 0; t < s.Time; t++)
        {
            long step = (long)bh * s.Time + t, key = step * kd;
            T alpha = T.Exp(v.G[step]);
            T recalled = T.Zero;
            for (int kk = 0; kk < kd; kk++)
            {
                T decayed = alpha * v.Last[sBase + (long)kk * vd];
                v.Last[sBase + (long)kk * vd] = decayed;
                recalled += decayed * v.K[key + kk];
            }
            T u = v.Beta[step] * (v.V[step * vd + j] - recalled);
            T acc = T.Zero;
            for (int kk = 0; kk < kd; kk++)
            {
                T state = v.Last[sBase + (long)kk * vd] + u * v.K[key + kk];
                v.Last[sBase + (long)kk * vd] = state;
                acc += state * v.Q[key + kk];
            }
            v.O[step * vd + j] = acc;
        }
    }

    /// <summary>
    /// Gated delta rule backward for the column (b, h, j). With G = ∂L/∂s_t carried from the future (starting at dS_T), for
    /// t = T−1…0, where s′ = α_t s_{t−1} (the decayed state), ρ = v_t[j] − s′·k_t, u = β_t ρ and μ = G·k_t (after the first line):
    /// <code>
    ///   G   += do_t[j] q_t            dq_t ← do_t[j] s_t          (this j's term, as are dk, dg and dβ)
    ///   dv_t[j] = β_t μ               dβ_t ← μ ρ
    ///   dk_t ← u G − β_t μ s′         G′ = G − β_t μ k_t          (the gradient of s′)
    ///   dg_t ← α_t (G′·s_{t−1})       G  = α_t G′                 (→ dS0 after t = 0)
    /// </code>
    /// Pass 1 writes every s_t to <c>States</c>; pass 2 overwrites s_t with do_t[j] s_t once step t no longer needs it.
    /// </summary>
    public static void GatedDeltaRuleBackward(Index1D index, DeltaRuleShape s, DeltaRuleBackwardViews<T> v)
    {
        int row = index;
        int kd = s.KeyDim, vd = s.ValueDim, bh = row / vd, j = row % vd;
        long sBase = (long)bh * kd * vd + j, stepStride = (long)vd * kd;
        for (int t = 0; t < s.Time; t++)
        {
            long step = (long)bh * s.Time + t, key = step * kd, st = (step * vd + j) * kd;
            T alpha = T.Exp(v.G[step]);
            T recalled = T.Zero;
            for (int kk = 0; kk < kd; kk++)
                recalled += alpha * (t == 0 ? v.S0[sBase + (long)kk * vd] : v.States[st - stepStride + kk]) * v.K[key + kk];
            T u = v.Beta[step] * (v.V[step * vd + j] - recalled);
            for (int kk = 0; kk < kd; kk++)
            {
                T prev = t == 0 ? v.S0[sBase + (long)kk * vd] : v.States[st - stepStride + kk];
                v.States[st + kk] = alpha * prev + u * v.K[key + kk];
            }
        }
        for (int kk = 0; kk < kd; kk++) v.DS0[sBase + (long)kk * vd] = v.DLast[sBase + (long)kk * vd];
        for (int t = s.Time - 1; t >= 0; t--)
        {
            long step = (long)bh * s.Time + t, key = step * kd, st = (step * vd + j) * kd;
            T alpha = T.Exp(v.G[step]), beta = v.Beta[step], dOut = v.DO[step * vd + j];
            T recalled = T.Zero, mu = T.Zero;
            for (int kk = 0; kk < kd; kk++)
            {
                T prev = t == 0 ? v.S0[sBase + (long)kk * vd] : v.States[st - stepStride + kk];
                T g = v.DS0[sBase + (long)kk * vd] + dOut * v.Q[key + kk];
                v.DS0[sBase + (long)kk * vd] = g;
                recalled += alpha * prev * v.K[key + kk];
                mu += g * v.K[key + kk];
            }
            T residual = v.V[step * vd + j] - recalled, u = beta * residual, dRecalled = -beta * mu;
            v.DV[step * vd + j] = beta * mu;
            v.PartBeta[step * vd + j] = mu * residual;
            T gAlpha = T.Zero;
            for (int kk = 0; kk < kd; kk++)
            {
                T prev = t == 0 ? v.S0[sBase + (long)kk * vd] : v.States[st - stepStride + kk];
                T g = v.DS0[sBase + (long)kk * vd];
                T k = v.K[key + kk];
                v.PartK[st + kk] = u * g + dRecalled * alpha * prev;
                T gDecayed = g + dRecalled * k;
                gAlpha += gDecayed * prev;
                v.States[st + kk] = dOut * v.States[st + kk];               // s_t → this j's term of dq_t
                v.DS0[sBase + (long)kk * vd] = alpha * gDecayed;
            }
            v.PartG[step * vd + j] = alpha * gAlpha;
        }
    }
}
