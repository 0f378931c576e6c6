using static TorchSharp.torch;

namespace ArchLab.Kernels.Reference;

/// <summary>
/// RWKV-4's WKV (see <see cref="Wkv4"/>) as TorchSharp tensor ops, autograd through the ops: the oracle, and the form
/// <see cref="Mixers.Rwkv4TimeMix"/> ran before the fused kernel.
/// <para>A sequence goes through in blocks of <c>block</c> tokens (<see cref="Block"/>): inside a block every exponent is
/// written out at once and each output row is normalised by its own largest exponent, so no exp overflows and the
/// per-token loop (≈23 tiny ops per token) becomes ≈25 ops per block. Block 0 (or a single token) runs the recurrence
/// token by token (<see cref="Step"/>, the official att_one arithmetic).</para>
/// </summary>
public static class Wkv4Reference
{
    public const int DefaultBlock = 16;

    public static (Tensor Y, Wkv4State Last) Forward(Tensor w, Tensor u, Tensor k, Tensor v, Wkv4State? initial, int block = DefaultBlock)
    {
        long batch = k.shape[0], time = k.shape[1], channels = k.shape[2];
        var (a, b, p) = initial ?? Wkv4State.Empty(batch, channels, k.dtype, k.device);
        var pieces = new List<Tensor>();
        if (block <= 0)
        {
            for (long t = 0; t < time; t++)
            {
                Tensor token;
                (token, (a, b, p)) = Step(w, u, k.select(1, t), v.select(1, t), new Wkv4State(a, b, p));
                pieces.Add(token.unsqueeze(1));
            }
        }
        else
        {
            for (long start = 0; start < time; start += block)
            {
                long n = Math.Min(block, time - start);
                Tensor piece;
                (piece, (a, b, p)) = Block(w, u, k.narrow(1, start, n), v.narrow(1, start, n), new Wkv4State(a, b, p));
                pieces.Add(piece);
            }
        }
        var y = pieces.Count == 0 ? empty_like(k) : pieces.Count == 1 ? pieces[0] : cat(pieces, 1);
        return (y, new Wkv4State(a, b, p));
    }

    /// <summary>
    /// One token of the stable WKV recurrence, k, v and the state [batch, C]: the output with the bonus u on the current
    /// token, then the state decayed by w and extended by this token (ChatRWKV's att_one arithmetic).
    /// </summary>
    public static (Tensor Y, Wkv4State Next) Step(Tensor w, Tensor u, Tensor k, Tensor v, Wkv4State state)
    {
        var (a, b, p) = state;
        var bonus = u + k;
        var q = maximum(p, bonus);
        var e1 = (p - q).exp();
        var e2 = (bonus - q).exp();
        var wkv = (e1 * a + e2 * v) / (e1 * b + e2);

        var decayed = w + p;
        var qNext = maximum(decayed, k);
        var d1 = (decayed - qNext).exp();
        var d2 = (k - qNext).exp();
        return (wkv, new Wkv4State(d1 * a + d2 * v, d1 * b + d2, qNext));
    }

    /// <summary>
    /// WKV for a block of n tokens, k and v [batch, n, C], from the state (a, b, p) before it; returns wkv [batch, n, C]
    /// and the state after it. Output j weighs token i &lt; j by e^{(j−1−i)w + k_i}, itself by e^{u + k_j}, and the
    /// carried sums by e^{j·w + p}; the state after the block weighs token i by e^{(n−1−i)w + k_i} and the carried sums by
    /// e^{n·w + p}. Each row is scaled by e^{−max exponent} (the scale cancels in the ratio and in (a, b, p), so it needs
    /// no gradient).
    /// </summary>
    public static (Tensor Y, Wkv4State Next) Block(Tensor w, Tensor u, Tensor k, Tensor v, Wkv4State state)
    {
        var (a, b, p) = state;
        long n = k.shape[1];
        var device = k.device;
        var kT = k.transpose(1, 2);                                          // [B, C, n]   k_i
        var vT = v.transpose(1, 2);                                          // [B, C, n]   v_i
        var j = arange(n, k.dtype, device);
        var lag = j.unsqueeze(1) - j.unsqueeze(0) - 1;                       // [n, n]      j − 1 − i
        var past = ones(n, n, ScalarType.Bool, device).tril(-1);            // i < j
        var wCol = w.view(-1, 1, 1);                                         // [C, 1, 1]
        var pastExp = wCol * lag + kT.unsqueeze(2);                          // [B, C, n, n] (j−1−i)w + k_i
        var bonus = (u + k).transpose(1, 2);                                 // [B, C, n]   u + k_j
        var diagonal = eye(n, dtype: ScalarType.Bool, device: device);      // i = j
        var exponents = where(past, pastExp, full([], double.NegativeInfinity, k.dtype, device));
        exponents = where(diagonal, bonus.unsqueeze(3), exponents);          // [B, C, n, n], −∞ above the diagonal
        var carried = w.view(-1, 1) * j + p.unsqueeze(2);                   // [B, C, n]   j·w + p

        var scale = maximum(exponents.amax([3]), carried).detach();          // [B, C, n]
        var weights = (exponents - scale.unsqueeze(3)).exp();
        var carry = (carried - scale).exp();
        var num = weights.matmul(vT.unsqueeze(3)).squeeze(3) + carry * a.unsqueeze(2);
        var den = weights.sum(3) + carry * b.unsqueeze(2);
        var wkv = (num / den).transpose(1, 2);

        var endExp = w.view(-1, 1) * (n - 1 - j) + kT;                       // [B, C, n]   (n−1−i)w + k_i
        var endCarried = n * w + p;                                          // [B, C]      n·w + p
        var pNext = maximum(endExp.amax([2]), endCarried).detach();
        var endWeights = (endExp - pNext.unsqueeze(2)).exp();
        var endCarry = (endCarried - pNext).exp();
        var aNext = (endWeights * vT).sum(2) + endCarry * a;
        var bNext = endWeights.sum(2) + endCarry * b;
        return (wkv, new Wkv4State(aNext, bNext, pNext));
    }
}
