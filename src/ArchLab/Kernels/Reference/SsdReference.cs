using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Reference;

/// <summary>
/// Mamba-2's state-space dual (SSD) scan as TorchSharp tensor ops (Dao &amp; Gu 2024, "Transformers are SSMs", §6 and
/// Listing 1). Per head h, with a scalar decay a_t = Δ_t·A_h ≤ 0 shared by the head's P × N state:
/// <code>
///   S_t = exp(a_t) · S_{t−1} + (Δ_t x_t) B_tᵀ        S ∈ ℝ^{P×N}, x_t ∈ ℝ^P, B_t, C_t ∈ ℝ^N
///   y_t = S_t C_t
/// </code>
/// Shapes: x [batch, T, H, P], Δ [batch, T, H] (already through softplus), A [H] (negative), B and C [batch, T, H, N]
/// (the caller maps groups to heads), S [batch, H, P, N]. The D skip and the gate are the caller's.
/// </summary>
public static class SsdReference
{
    static readonly Scalar One = 1.0;

    /// <summary>
    /// The chunked form, chunk length Q: inside a chunk the quadratic ("attention-like") form
    /// y_i = Σ_{j≤i} (C_i·B_j) exp(a_{j+1} + … + a_i) Δ_j x_j; between chunks the state S passes with the chunk's total decay,
    /// and adds exp(a_1 + … + a_i) S_start C_i to each position. The last chunk is padded with Δ = 0 (no decay, no input),
    /// so the final state is the state after token T. Returns y [batch, T, H, P] and S_T.
    /// </summary>
    public static (Tensor Y, Tensor Final) Chunked(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? s0, long chunk)
    {
        long batch = x.shape[0], time = x.shape[1], heads = x.shape[2], p = x.shape[3], n = b.shape[3];
        if (chunk < 1) throw new ArgumentOutOfRangeException(nameof(chunk), $"SSD chunk length must be positive, got {chunk}");
        s0 ??= zeros(batch, heads, p, n, dtype: x.dtype, device: x.device);
        if (time == 0) return (x.clone(), s0);
        long q = Math.Min(chunk, time), pad = (q - time % q) % q, chunks = (time + pad) / q;

        Tensor Chunks(Tensor t) => nn.functional.pad(t, PadTime(t.dim(), pad)).view([batch, chunks, q, .. t.shape[2..]]);
        var xdt = Chunks(x * dt.unsqueeze(-1)).permute(0, 1, 3, 2, 4);                         // Δx   [b, c, H, Q, P]
        var bc = Chunks(b).permute(0, 1, 3, 2, 4);                                            // B    [b, c, H, Q, N]
        var cc = Chunks(c).permute(0, 1, 3, 2, 4);                                            // C    [b, c, H, Q, N]
        var logDecay = Chunks(dt * a).permute(0, 1, 3, 2);                                    // a    [b, c, H, Q]
        var cumulative = logDecay.cumsum(-1);                                                 // a_1 + … + a_i

        // 1. Inside each chunk: (C Bᵀ ⊙ L) Δx with L_ij = exp(a_{j+1} + … + a_i) for j ≤ i, 0 above the diagonal.
        var within = matmul(matmul(cc, bc.transpose(-1, -2)) * exp(SegmentSums(logDecay)), xdt);

        // 2. Each chunk's own contribution to the state at its end: Σ_j exp(a_{j+1} + … + a_Q) Δ_j x_j B_jᵀ.
        var toEnd = exp(cumulative.narrow(-1, q - 1, 1) - cumulative);                        // [b, c, H, Q]
        var chunkStates = matmul((xdt * toEnd.unsqueeze(-1)).transpose(-1, -2), bc);          // [b, c, H, P, N]

        // 3. Pass the state along the chunks: S_end = exp(a_1 + … + a_Q) S_start + chunk state.
        var chunkDecay = exp(cumulative.select(-1, q - 1));                                   // [b, c, H]
        var starts = new Tensor[chunks];
        var s = s0;
        var decays = chunkDecay.unbind(1);
        var inputs = chunkStates.unbind(1);
        for (int i = 0; i < chunks; i++)
        {
            starts[i] = s;
            s = addcmul(inputs[i], decays[i].unsqueeze(-1).unsqueeze(-1), s, One);
        }

        // 4. The state at each chunk's start, read by C and decayed to each position: exp(a_1 + … + a_i) C_i S_startᵀ.
        var fromStart = matmul(cc, stack(starts, 1).transpose(-1, -2)) * exp(cumulative).unsqueeze(-1);   // [b, c, H, Q, P]

        var y = (within + fromStart).permute(0, 1, 3, 2, 4).reshape(batch, chunks * q, heads, p).narrow(1, 0, time);
        return (y, s);
    }

    /// <summary>The recurrence one token at a time (the oracle for <see cref="Chunked"/> and the decode step):
    /// x [batch, H, P], Δ [batch, H], B, C [batch, H, N], S [batch, H, P, N] → y [batch, H, P], the new S.</summary>
    public static (Tensor Y, Tensor State) Step(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor s)
    {
        var decay = exp(dt * a).unsqueeze(-1).unsqueeze(-1);                                  // [batch, H, 1, 1]
        var next = addcmul((x * dt.unsqueeze(-1)).unsqueeze(-1) * b.unsqueeze(-2), decay, s, One);
        return (matmul(next, c.unsqueeze(-1)).squeeze(-1), next);
    }

    /// <summary>Every token through <see cref="Step"/>: x [batch, T, H, P] … → y [batch, T, H, P], S_T.</summary>
    public static (Tensor Y, Tensor Final) Sequential(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? s0)
    {
        var s = s0 ?? zeros(x.shape[0], x.shape[2], x.shape[3], b.shape[3], dtype: x.dtype, device: x.device);
        if (x.shape[1] == 0) return (x.clone(), s);
        var (xs, dts, bs, cs) = (x.unbind(1), dt.unbind(1), b.unbind(1), c.unbind(1));
        var ys = new Tensor[xs.Length];
        for (int t = 0; t < xs.Length; t++) (ys[t], s) = Step(xs[t], dts[t], a, bs[t], cs[t], s);
        return (stack(ys, 1), s);
    }

    /// <summary>
    /// L's exponent for every chunk: out[…, i, j] = a_{j+1} + … + a_i for j ≤ i, −∞ above the diagonal (exp gives 0).
    /// Summed from the masked values rather than as a difference of prefix sums, as the official <c>segsum</c> does, so the
    /// small sums near the diagonal do not lose digits to the large prefix sums.
    /// </summary>
    static Tensor SegmentSums(Tensor logDecay)
    {
        long q = logDecay.shape[^1];
        var strictlyBelow = ones(q, q, dtype: ScalarType.Bool, device: logDecay.device).tril(-1);
        var repeated = logDecay.unsqueeze(-1).expand([.. logDecay.shape, q]);                  // [.., i, j] = a_i
        var sums = repeated.masked_fill(strictlyBelow.logical_not(), 0).cumsum(-2);           // Σ_{j<k≤i} a_k
        var onOrBelow = ones(q, q, dtype: ScalarType.Bool, device: logDecay.device).tril();
        return sums.masked_fill(onOrBelow.logical_not(), double.NegativeInfinity);
    }

    /// <summary>F.pad's list for padding dimension 1 (time) of a tensor with <paramref name="dims"/> dimensions at its end.</summary>
    static long[] PadTime(long dims, long pad)
    {
        var spec = new long[2 * (dims - 1)];
        spec[^1] = pad;
        return spec;
    }
}
