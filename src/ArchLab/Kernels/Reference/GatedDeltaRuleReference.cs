using static TorchSharp.torch;

namespace ArchLab.Kernels.Reference;

/// <summary>
/// The gated delta rule (Yang, Kautz &amp; Hatamizadeh 2024, "Gated Delta Networks", eq. 10; flash-linear-attention
/// <c>fla/ops/gated_delta_rule</c>) as TorchSharp tensor ops, autograd through the ops. Per head, with a [K, V] state S:
/// <code>
///   S_t = α_t S_{t−1} (I − β_t k_t k_tᵀ) + β_t k_t v_tᵀ      written as   S ← α S;  u = β (v − Sᵀk);  S ← S + k uᵀ
///   o_t = S_tᵀ q_t                                         α_t = exp(g_t), g_t ≤ 0 the log decay
/// </code>
/// Shapes: q, k [B, H, T, K] (q already scaled and both L2-normalised), v [B, H, T, V], g and β [B, H, T], S [B, H, K, V].
/// Three forms, equal up to rounding: <see cref="Recurrent"/> (token by token), <see cref="Step"/> (one token) and
/// <see cref="Chunked"/>, the chunkwise WY form used for training.
/// </summary>
public static class GatedDeltaRuleReference
{
    /// <summary>One token: q, k [B, H, K], v [B, H, V], g, β [B, H]; returns o [B, H, V] and the new state.</summary>
    public static (Tensor O, Tensor S) Step(Tensor q, Tensor k, Tensor v, Tensor g, Tensor beta, Tensor s)
    {
        s = s * g.exp().unsqueeze(-1).unsqueeze(-1);
        var recalled = matmul(k.unsqueeze(-2), s).squeeze(-2);                 // Sᵀk  [B, H, V]
        var u = beta.unsqueeze(-1) * (v - recalled);
        s = s + k.unsqueeze(-1) * u.unsqueeze(-2);                              // + k uᵀ
        var o = matmul(q.unsqueeze(-2), s).squeeze(-2);                         // Sᵀq
        return (o, s);
    }

    /// <summary>The whole sequence token by token from <paramref name="s0"/>: o [B, H, T, V] and the last state.</summary>
    public static (Tensor O, Tensor S) Recurrent(Tensor q, Tensor k, Tensor v, Tensor g, Tensor beta, Tensor s0)
    {
        long time = q.shape[2];
        var s = s0;
        var outputs = new Tensor[time];
        for (long t = 0; t < time; t++)
        {
            Tensor o;
            (o, s) = Step(q.select(2, t), k.select(2, t), v.select(2, t), g.select(2, t), beta.select(2, t), s);
            outputs[t] = o.unsqueeze(2);
        }
        return (time == 0 ? zeros_like(v) : cat(outputs, 2), s);
    }

    /// <summary>
    /// The chunkwise form with chunks of <paramref name="chunk"/> tokens. Inside a chunk, with γ_i = Σ_{j≤i} g_j (the
    /// cumulative log decay from the chunk start) and Γ_ij = exp(γ_i − γ_j) for j ≤ i (0 above the diagonal):
    /// <code>
    ///   T = (I + strictly-lower(diag(β) K Kᵀ ⊙ Γ))⁻¹          the WY (UT) transform, a unit lower-triangular solve
    ///   U = T (β ⊙ V),   W = T (β ⊙ exp(γ) ⊙ K)
    ///   V′ = U − W S                                         the chunk's values corrected by what S already predicts
    ///   O = (Q ⊙ exp(γ)) S + (Q Kᵀ ⊙ Γ) V′                    inter-chunk + intra-chunk (diagonal included)
    ///   S ← exp(γ_C) S + (K ⊙ exp(γ_C − γ))ᵀ V′
    /// </code>
    /// Everything but the state hand-over is batched over all chunks (matmuls); the sequence is right-padded to whole
    /// chunks with k = v = q = 0, β = 0, g = 0, which leaves the state untouched (the pad comes after the gate, so no
    /// decay leaks through it).
    /// </summary>
    public static (Tensor O, Tensor S) Chunked(Tensor q, Tensor k, Tensor v, Tensor g, Tensor beta, Tensor s0, int chunk)
    {
        if (chunk <= 0) throw new ArgumentOutOfRangeException(nameof(chunk), $"chunk size must be positive, got {chunk}");
        long batch = q.shape[0], heads = q.shape[1], time = q.shape[2], dv = v.shape[3];
        if (time == 0) return (zeros_like(v), s0);
        long pad = (chunk - time % chunk) % chunk, n = (time + pad) / chunk;
        Tensor Chunks(Tensor x) => (pad > 0 ? nn.functional.pad(x, [0, 0, 0, pad]) : x).reshape(batch, heads, n, chunk, x.shape[3]);
        Tensor ChunksScalar(Tensor x) => (pad > 0 ? nn.functional.pad(x, [0, pad]) : x).reshape(batch, heads, n, chunk);
        var (qc, kc, vc) = (Chunks(q), Chunks(k), Chunks(v));                     // [B, H, N, C, ·]
        var (gc, bc) = (ChunksScalar(g).cumsum(-1), ChunksScalar(beta));          // γ, β  [B, H, N, C]

        var lowerIncl = ones(chunk, chunk, dtype: ScalarType.Bool, device: q.device).tril();
        var strictlyLower = ones(chunk, chunk, dtype: ScalarType.Bool, device: q.device).tril(-1);
        var decay = (gc.unsqueeze(-1) - gc.unsqueeze(-2)).masked_fill(lowerIncl.logical_not(), double.NegativeInfinity).exp(); // Γ

        var betaCol = bc.unsqueeze(-1);
        var a = (betaCol * matmul(kc, kc.transpose(-1, -2)) * decay).masked_fill(strictlyLower.logical_not(), 0.0);
        var identity = eye(chunk, dtype: q.dtype, device: q.device);
        var transform = linalg.solve_triangular(a + identity, identity.expand(a.shape), upper: false);    // T
        var u = matmul(transform, betaCol * vc);                                  // [B, H, N, C, V]
        var w = matmul(transform, betaCol * gc.exp().unsqueeze(-1) * kc);        // [B, H, N, C, K]
        var intra = matmul(qc, kc.transpose(-1, -2)) * decay;                     // [B, H, N, C, C]
        var qDecayed = qc * gc.exp().unsqueeze(-1);
        var last = gc.narrow(-1, chunk - 1, 1);                                   // γ_C  [B, H, N, 1]
        var kToEnd = kc * (last - gc).exp().unsqueeze(-1);

        var s = s0;
        var outputs = new Tensor[n];
        for (long i = 0; i < n; i++)
        {
            var vNew = u.select(2, i) - matmul(w.select(2, i), s);
            outputs[i] = matmul(qDecayed.select(2, i), s) + matmul(intra.select(2, i), vNew);
            s = s * last.select(2, i).exp().unsqueeze(-1) + matmul(kToEnd.select(2, i).transpose(-1, -2), vNew);
        }
        var o = stack(outputs, 2).reshape(batch, heads, n * chunk, dv);
        return (pad > 0 ? o.narrow(2, 0, time) : o, s);
    }
}
