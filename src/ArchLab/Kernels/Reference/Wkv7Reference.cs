using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Reference;

/// <summary>
/// RWKV-7's WKV: the generalised delta rule with a vector decay (BlinkDL RWKV-LM <c>RWKV-v7/rwkv_v7_demo.py</c>, RWKV7_OP),
/// per head, with the state S [N_v, N_k] (the official layout, <c>state[v, k]</c>):
/// <code>S_t = S_{t−1}·diag(w_t) + (S_{t−1}·a_t)·b_tᵀ + v_t·k_tᵀ,    y_t = S_t·r_t</code>
/// (RWKV-7 passes a = −κ̂ and b = κ̂ ⊙ iclr, so the middle term is −S·κ̂·(iclr ⊙ κ̂)ᵀ). All inputs are [batch, time, heads, N];
/// the decay comes as its logarithm <c>logW</c> = log w ≤ 0, the state as [batch, heads, N, N].
/// <para><see cref="Recurrent"/> is the loop above, token by token (the oracle). <see cref="Chunked"/> gives the same result
/// with matrix products over chunks of <c>L</c> tokens: inside a chunk, with cumulative log decays c_t = Σ_{i≤t} log w_i
/// (c_0 = 0 at the chunk start, Λ_t = e^{c_t}), the state is S_t = Ŝ_t·diag(Λ_t) where
/// Ŝ_t = S_0 + Σ_{s≤t} (u_s·(b_s/Λ_s)ᵀ + v_s·(k_s/Λ_s)ᵀ) and u_s = S_{s−1}·a_s. The u_s solve a unit lower-triangular system
/// u_t = S_0·(Λ_{t−1}⊙a_t) + Σ_{s&lt;t} [(Λ_{t−1}⊙a_t)·(b_s/Λ_s)] u_s + [(Λ_{t−1}⊙a_t)·(k_s/Λ_s)] v_s, and then
/// y_t = S_0·(Λ_t⊙r_t) + Σ_{s≤t} [(Λ_t⊙r_t)·(b_s/Λ_s)] u_s + [(Λ_t⊙r_t)·(k_s/Λ_s)] v_s. Every pair (t, s) only ever
/// multiplies Λ_t/Λ_s ≤ 1; the factors e^{−c_s} grow within a chunk to at most w_min^{−L}, which RWKV-7's soft clamp
/// (w ≥ e^{−e^{−1/2}} ≈ 0.545) bounds by 1.6e4 for L = 16.</para>
/// </summary>
public static class Wkv7Reference
{
    /// <summary>Tokens per chunk of <see cref="Chunked"/> (the official CUDA kernels use 16 too).</summary>
    public const int DefaultChunk = 16;

    /// <summary>One token: inputs [batch, heads, N], state [batch, heads, N, N] (not modified). Returns y and the new state.</summary>
    public static (Tensor Y, Tensor State) Step(Tensor r, Tensor logW, Tensor k, Tensor v, Tensor a, Tensor b, Tensor state)
    {
        using var scope = NewDisposeScope();
        var next = state * logW.exp().unsqueeze(-2)
                   + matmul(state, a.unsqueeze(-1)) * b.unsqueeze(-2)
                   + v.unsqueeze(-1) * k.unsqueeze(-2);
        var y = matmul(next, r.unsqueeze(-1)).squeeze(-1);
        return (y.MoveToOuterDisposeScope(), next.MoveToOuterDisposeScope());
    }

    /// <summary>Token by token: y [batch, time, heads, N] and the final state. <paramref name="initial"/> null = zeros.</summary>
    public static (Tensor Y, Tensor State) Recurrent(Tensor r, Tensor logW, Tensor k, Tensor v, Tensor a, Tensor b, Tensor? initial = null)
    {
        using var scope = NewDisposeScope();
        long batch = r.shape[0], time = r.shape[1], heads = r.shape[2], n = r.shape[3];
        var state = initial?.alias() ?? zeros([batch, heads, n, n], r.dtype, r.device);
        var ys = new Tensor[time];
        for (long t = 0; t < time; t++)
            (ys[t], state) = Step(r.select(1, t), logW.select(1, t), k.select(1, t), v.select(1, t), a.select(1, t), b.select(1, t), state);
        var y = time == 0 ? zeros_like(r) : stack(ys, 1);
        return (y.MoveToOuterDisposeScope(), state.MoveToOuterDisposeScope());
    }

    /// <summary>The chunked form (see the class summary): same result as <see cref="Recurrent"/> up to rounding, with the
    /// intra-chunk work as batched matrix products and one small loop over chunks for the state. T is padded at the end to
    /// a multiple of <paramref name="chunk"/> with tokens that leave the state unchanged (w = 1, k = v = a = b = 0).</summary>
    public static (Tensor Y, Tensor State) Chunked(Tensor r, Tensor logW, Tensor k, Tensor v, Tensor a, Tensor b, Tensor? initial = null,
        int chunk = DefaultChunk)
    {
        if (chunk <= 0) throw new ArgumentOutOfRangeException(nameof(chunk), $"chunk must be positive, got {chunk}");
        using var scope = NewDisposeScope();
        long batch = r.shape[0], time = r.shape[1], heads = r.shape[2], n = r.shape[3];
        var state = initial ?? zeros([batch, heads, n, n], r.dtype, r.device);
        if (time == 0) return (zeros_like(r).MoveToOuterDisposeScope(), state.alias().MoveToOuterDisposeScope());
        long chunks = (time + chunk - 1) / chunk, padded = chunks * chunk;

        // [B, T, H, N] → [B, H, chunks, L, N], padded with state-preserving tokens
        Tensor Blocks(Tensor x) =>
            nn.functional.pad(x, [0, 0, 0, 0, 0, padded - time]).view(batch, chunks, chunk, heads, n).permute(0, 3, 1, 2, 4);
        var (rc, lw, kc, vc, ac, bc) = (Blocks(r), Blocks(logW), Blocks(k), Blocks(v), Blocks(a), Blocks(b));

        var c = lw.cumsum(-2);                               // c_t, inclusive
        var cPrevious = c - lw;                              // c_{t−1}
        var cLast = c.narrow(-2, chunk - 1, 1);              // c_L
        var rDecayed = rc * c.exp();                         // Λ_t ⊙ r_t
        var aDecayed = ac * cPrevious.exp();                 // Λ_{t−1} ⊙ a_t
        var kGrown = kc * (-c).exp();                        // k_s / Λ_s
        var bGrown = bc * (-c).exp();                        // b_s / Λ_s
        var toEnd = (cLast - c).exp();                       // Λ_L / Λ_s
        var kToEnd = kc * toEnd;
        var bToEnd = bc * toEnd;

        var strict = ones([chunk, chunk], r.dtype, r.device).tril(-1);
        var inclusive = ones([chunk, chunk], r.dtype, r.device).tril();
        var aB = matmul(aDecayed, bGrown.transpose(-1, -2)) * strict;    // [.., L, L]
        var aK = matmul(aDecayed, kGrown.transpose(-1, -2)) * strict;
        var rB = matmul(rDecayed, bGrown.transpose(-1, -2)) * inclusive;
        var rK = matmul(rDecayed, kGrown.transpose(-1, -2)) * inclusive;

        // u = (I − aB)⁻¹ (aDecayed·S_0ᵀ + aK·v): the state-independent parts solved once for every chunk
        var system = eye(chunk, dtype: r.dtype, device: r.device) - aB;
        var uFromState = linalg.solve_triangular(system, aDecayed, upper: false, unitriangular: true);           // [.., L, N_k]
        var uFromValues = linalg.solve_triangular(system, matmul(aK, vc), upper: false, unitriangular: true);    // [.., L, N_v]
        var yFromValues = matmul(rK, vc);
        var stateFromValues = matmul(kToEnd.transpose(-1, -2), vc);                                            // [.., N_k, N_v]
        var lastDecay = cLast.exp().transpose(-1, -2);                                                         // [.., N_k, 1]

        // the loop over chunks works on Z = Sᵀ [B, H, N_k, N_v]
        var z = state.transpose(-1, -2);
        var ys = new Tensor[chunks];
        for (long i = 0; i < chunks; i++)
        {
            Tensor At(Tensor x) => x.select(2, i);
            var u = matmul(At(uFromState), z) + At(uFromValues);
            ys[i] = matmul(At(rDecayed), z) + matmul(At(rB), u) + At(yFromValues);
            z = At(lastDecay) * z + matmul(At(bToEnd).transpose(-1, -2), u) + At(stateFromValues);
        }
        var y = stack(ys, 2).view(batch, heads, padded, n).narrow(2, 0, time).permute(0, 2, 1, 3).contiguous();
        return (y.MoveToOuterDisposeScope(), z.transpose(-1, -2).contiguous().MoveToOuterDisposeScope());
    }
}
