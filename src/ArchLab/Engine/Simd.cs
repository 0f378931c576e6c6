using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ArchLab.Engine;

/// <summary>
/// The few short-vector loops the engine needs in its inner loops (a dot product of a head's 32–128 values, y += a·x),
/// written once with the widest vector the CPU accelerates (Vector512, else Vector256, else scalar), chosen at run time.
/// Longer element-wise work goes through <see cref="TensorPrimitives"/>.
/// </summary>
static class Simd
{
    public static readonly bool Wide = Vector512.IsHardwareAccelerated;
    public static readonly bool Narrow = Vector256.IsHardwareAccelerated;

    /// <summary>[Σ a0, Σ a1, …, Σ a7]: the horizontal sums of eight vectors at once, as one vector (with AVX, a transposing
    /// tree of pairwise adds: 7 shuffling adds instead of eight separate reductions).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> SumEach(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3,
        Vector256<float> a4, Vector256<float> a5, Vector256<float> a6, Vector256<float> a7)
    {
        if (!Avx.IsSupported)
            return Vector256.Create(Vector256.Sum(a0), Vector256.Sum(a1), Vector256.Sum(a2), Vector256.Sum(a3),
                Vector256.Sum(a4), Vector256.Sum(a5), Vector256.Sum(a6), Vector256.Sum(a7));
        // Within each 128-bit lane: [a0+, a1+, a2+, a3+] after two rounds of pairwise adds, likewise a4..a7.
        var s0123 = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));
        var s4567 = Avx.HorizontalAdd(Avx.HorizontalAdd(a4, a5), Avx.HorizontalAdd(a6, a7));
        // Add the lower lanes to the upper ones: [lower(s0123) + upper(s0123), lower(s4567) + upper(s4567)].
        return Avx.Permute2x128(s0123, s4567, 0x20) + Avx.Permute2x128(s0123, s4567, 0x31);
    }

    /// <summary>
    /// e^x in single precision, for the engine's inner loops (Mamba's decays, softplus, RWKV-4's WKV).
    /// <see cref="Vector512.Exp(Vector512{float})"/> widens to double and is not inlined: 4,096 of them took 1.53 µs
    /// against 0.99 µs for this one (one thread, AVX-512, 2026-12-05; Mamba's scan takes 4,096 per layer and token).
    /// x = k·ln 2 + r with k = round(x/ln 2) and |r| ≤ ln 2 / 2 (ln 2 in two parts, so r is exact to a few ulp), e^r by
    /// its Taylor series to r⁷/7! (truncation error below 2·10⁻⁸), times 2^k built in the exponent bits.
    /// Relative error within 2.5·10⁻⁷ of e^x for x in [−87, 88.7] (tested); subnormal results down to −87.5, 0 below it
    /// (where e^x &lt; 1.0·10⁻³⁸), +∞ above 88.72, NaN for NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var clamped = Vector512.Min(Vector512.Max(x, Vector512.Create(ExpLowest)), Vector512.Create(ExpHighest));
        var k = Vector512.Round(clamped * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2High), clamped);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2Low), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(1f / 5040), r, Vector512.Create(1f / 720));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 120));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 24));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        // 2^k as two factors 2^(k/2) and 2^(k − k/2), each built in the exponent bits: k ∈ [−126, 128] would overflow
        // them as one (2^128) or fall to 0 (2^−127 is subnormal).
        var exponent = Vector512.ConvertToInt32(k);
        var lowerHalf = exponent >> 1;
        var result = p * ((lowerHalf + Vector512.Create(127)) << 23).AsSingle() * ((exponent - lowerHalf + Vector512.Create(127)) << 23).AsSingle();
        result = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(ExpLowest)), Vector512<float>.Zero, result);
        return Vector512.ConditionalSelect(Vector512.IsNaN(x), x, result);
    }

    /// <inheritdoc cref="Exp(Vector512{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var clamped = Vector256.Min(Vector256.Max(x, Vector256.Create(ExpLowest)), Vector256.Create(ExpHighest));
        var k = Vector256.Round(clamped * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(k, Vector256.Create(-Ln2High), clamped);
        r = Vector256.FusedMultiplyAdd(k, Vector256.Create(-Ln2Low), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(1f / 5040), r, Vector256.Create(1f / 720));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 120));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 24));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        var exponent = Vector256.ConvertToInt32(k);
        var lowerHalf = exponent >> 1;
        var result = p * ((lowerHalf + Vector256.Create(127)) << 23).AsSingle() * ((exponent - lowerHalf + Vector256.Create(127)) << 23).AsSingle();
        result = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(ExpLowest)), Vector256<float>.Zero, result);
        return Vector256.ConditionalSelect(Vector256.IsNaN(x), x, result);
    }

    // Below ExpLowest (e^x < 1.0·10⁻³⁸) the result is 0; above ExpHighest the product overflows to +∞.
    const float ExpLowest = -87.5f, ExpHighest = 88.8f, Log2E = 1.44269504f;
    // ln 2 = Ln2High + Ln2Low, Ln2High with 16 significant bits, so k·Ln2High is exact for |k| ≤ 128.
    const float Ln2High = 0.693145751953125f, Ln2Low = 1.42860682e-6f;

    /// <summary>Σ a[i]·b[i] for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ref float a, ref float b, int n)
    {
        int i = 0;
        float sum = 0;
        if (Wide && n >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16)
                acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref a, (nuint)i), Vector512.LoadUnsafe(ref b, (nuint)i), acc);
            sum = Vector512.Sum(acc);
        }
        else if (Narrow && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
                acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref a, (nuint)i), Vector256.LoadUnsafe(ref b, (nuint)i), acc);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += Unsafe.Add(ref a, i) * Unsafe.Add(ref b, i);
        return sum;
    }

    /// <summary>y[i] += alpha·x[i] for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy(float alpha, ref float x, ref float y, int n)
    {
        int i = 0;
        if (Wide)
        {
            var a = Vector512.Create(alpha);
            for (; i <= n - 16; i += 16)
                Vector512.FusedMultiplyAdd(a, Vector512.LoadUnsafe(ref x, (nuint)i), Vector512.LoadUnsafe(ref y, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
        }
        else if (Narrow)
        {
            var a = Vector256.Create(alpha);
            for (; i <= n - 8; i += 8)
                Vector256.FusedMultiplyAdd(a, Vector256.LoadUnsafe(ref x, (nuint)i), Vector256.LoadUnsafe(ref y, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref y, i) += alpha * Unsafe.Add(ref x, i);
    }

    /// <summary>A linear-attention state row: row[i] = row[i]·decay + alpha·x[i], then output[i] += q·row[i], for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void DecayAddAndRead(ref float row, float decay, float alpha, ref float x, float q, ref float output, int n)
    {
        int i = 0;
        if (Wide)
        {
            Vector512<float> d = Vector512.Create(decay), a = Vector512.Create(alpha), qv = Vector512.Create(q);
            for (; i <= n - 16; i += 16)
            {
                var updated = Vector512.FusedMultiplyAdd(a, Vector512.LoadUnsafe(ref x, (nuint)i), Vector512.LoadUnsafe(ref row, (nuint)i) * d);
                updated.StoreUnsafe(ref row, (nuint)i);
                Vector512.FusedMultiplyAdd(qv, updated, Vector512.LoadUnsafe(ref output, (nuint)i)).StoreUnsafe(ref output, (nuint)i);
            }
        }
        else if (Narrow)
        {
            Vector256<float> d = Vector256.Create(decay), a = Vector256.Create(alpha), qv = Vector256.Create(q);
            for (; i <= n - 8; i += 8)
            {
                var updated = Vector256.FusedMultiplyAdd(a, Vector256.LoadUnsafe(ref x, (nuint)i), Vector256.LoadUnsafe(ref row, (nuint)i) * d);
                updated.StoreUnsafe(ref row, (nuint)i);
                Vector256.FusedMultiplyAdd(qv, updated, Vector256.LoadUnsafe(ref output, (nuint)i)).StoreUnsafe(ref output, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float updated = MathF.FusedMultiplyAdd(alpha, Unsafe.Add(ref x, i), Unsafe.Add(ref row, i) * decay);
            Unsafe.Add(ref row, i) = updated;
            Unsafe.Add(ref output, i) = MathF.FusedMultiplyAdd(q, updated, Unsafe.Add(ref output, i));
        }
    }

    /// <summary>A generalised delta-rule state row (RWKV-7): with recalled = −row·κ̂ (before the update),
    /// row ← row ⊙ decay + recalled·removal + v·k, and returns row·r (after it). Two passes over the row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float DeltaRuleRow(ref float row, ref float kappa, ref float decay, ref float removal, ref float k, float v,
                                     ref float r, int n)
    {
        float recalled = -Dot(ref row, ref kappa, n);
        int i = 0;
        float y = 0;
        if (Wide)
        {
            Vector512<float> rec = Vector512.Create(recalled), vv = Vector512.Create(v), acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                nuint at = (nuint)i;
                var updated = Vector512.LoadUnsafe(ref row, at) * Vector512.LoadUnsafe(ref decay, at);
                updated = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref removal, at), rec, updated);
                updated = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref k, at), vv, updated);
                updated.StoreUnsafe(ref row, at);
                acc = Vector512.FusedMultiplyAdd(updated, Vector512.LoadUnsafe(ref r, at), acc);
            }
            y = Vector512.Sum(acc);
        }
        else if (Narrow)
        {
            Vector256<float> rec = Vector256.Create(recalled), vv = Vector256.Create(v), acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
            {
                nuint at = (nuint)i;
                var updated = Vector256.LoadUnsafe(ref row, at) * Vector256.LoadUnsafe(ref decay, at);
                updated = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref removal, at), rec, updated);
                updated = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref k, at), vv, updated);
                updated.StoreUnsafe(ref row, at);
                acc = Vector256.FusedMultiplyAdd(updated, Vector256.LoadUnsafe(ref r, at), acc);
            }
            y = Vector256.Sum(acc);
        }
        for (; i < n; i++)
        {
            float updated = MathF.FusedMultiplyAdd(Unsafe.Add(ref k, i), v,
                MathF.FusedMultiplyAdd(Unsafe.Add(ref removal, i), recalled, Unsafe.Add(ref row, i) * Unsafe.Add(ref decay, i)));
            Unsafe.Add(ref row, i) = updated;
            y += updated * Unsafe.Add(ref r, i);
        }
        return y;
    }

    /// <summary>
    /// One token of Mamba's selective scan for every channel at once, the state kept [n, channels] so that a vector holds
    /// one state index of 16 (or 8) neighbouring channels and nothing needs a horizontal sum: for each state index s,
    /// h[s, e] = exp(Δ[e]·aT[s, e])·h[s, e] + dx[e]·b[s], and y[e] = Σ_s h[s, e]·c[s].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    public static void ScanChannels(Span<float> h, ReadOnlySpan<float> aT, ReadOnlySpan<float> delta, ReadOnlySpan<float> dx,
                                    ReadOnlySpan<float> b, ReadOnlySpan<float> c, Span<float> y)
    {
        int channels = delta.Length, n = b.Length;
        if (h.Length < n * channels || aT.Length < n * channels || dx.Length < channels || c.Length < n || y.Length < channels)
            throw new ArgumentException($"scan of {channels} channels × {n} states: h {h.Length}, aT {aT.Length}, dx {dx.Length}, c {c.Length}, y {y.Length}");
        ref float hs = ref MemoryMarshal.GetReference(h);
        ref float a = ref MemoryMarshal.GetReference(aT);
        ref float d = ref MemoryMarshal.GetReference(delta);
        ref float u = ref MemoryMarshal.GetReference(dx);
        ref float bs = ref MemoryMarshal.GetReference(b);
        ref float cs = ref MemoryMarshal.GetReference(c);
        ref float ys = ref MemoryMarshal.GetReference(y);
        int e = 0;
        if (Wide)
            for (; e <= channels - 16; e += 16)
            {
                var step = Vector512.LoadUnsafe(ref d, (nuint)e);
                var input = Vector512.LoadUnsafe(ref u, (nuint)e);
                var sum = Vector512<float>.Zero;
                for (int s = 0; s < n; s++)
                {
                    nuint at = (nuint)(s * channels + e);
                    var decay = Exp(Vector512.LoadUnsafe(ref a, at) * step);
                    var state = Vector512.FusedMultiplyAdd(input, Vector512.Create(Unsafe.Add(ref bs, s)), decay * Vector512.LoadUnsafe(ref hs, at));
                    state.StoreUnsafe(ref hs, at);
                    sum = Vector512.FusedMultiplyAdd(state, Vector512.Create(Unsafe.Add(ref cs, s)), sum);
                }
                sum.StoreUnsafe(ref ys, (nuint)e);
            }
        else if (Narrow)
            for (; e <= channels - 8; e += 8)
            {
                var step = Vector256.LoadUnsafe(ref d, (nuint)e);
                var input = Vector256.LoadUnsafe(ref u, (nuint)e);
                var sum = Vector256<float>.Zero;
                for (int s = 0; s < n; s++)
                {
                    nuint at = (nuint)(s * channels + e);
                    var decay = Exp(Vector256.LoadUnsafe(ref a, at) * step);
                    var state = Vector256.FusedMultiplyAdd(input, Vector256.Create(Unsafe.Add(ref bs, s)), decay * Vector256.LoadUnsafe(ref hs, at));
                    state.StoreUnsafe(ref hs, at);
                    sum = Vector256.FusedMultiplyAdd(state, Vector256.Create(Unsafe.Add(ref cs, s)), sum);
                }
                sum.StoreUnsafe(ref ys, (nuint)e);
            }
        for (; e < channels; e++)
        {
            float sum = 0;
            for (int s = 0; s < n; s++)
            {
                int at = s * channels + e;
                float state = MathF.Exp(Unsafe.Add(ref a, at) * Unsafe.Add(ref d, e)) * Unsafe.Add(ref hs, at) + Unsafe.Add(ref u, e) * Unsafe.Add(ref bs, s);
                Unsafe.Add(ref hs, at) = state;
                sum += state * Unsafe.Add(ref cs, s);
            }
            Unsafe.Add(ref ys, e) = sum;
        }
    }

    /// <summary>Tokens per key block of <see cref="BlockedDots"/>.</summary>
    public const int KeyBlock = 16;

    /// <summary>
    /// scores[t] = scale · q·k_t for t &lt; length, keys stored in blocks of <see cref="KeyBlock"/> tokens, each block
    /// [dims, 16] (dimension-major): the 16 scores of a block are one vector of broadcast multiply-adds over a contiguous
    /// 16·dims block, with no horizontal sums. <paramref name="scores"/> must hold whole blocks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void BlockedDots(ref float q, ref float keys, int dims, Span<float> scores, int length, float scale)
    {
        ref float s = ref MemoryMarshal.GetReference(scores);
        int blockSize = dims * KeyBlock;
        for (int t = 0; t < length; t += KeyBlock)
        {
            ref float block = ref Unsafe.Add(ref keys, (nint)((long)(t / KeyBlock) * blockSize));
            if (Wide)
            {
                // four partial sums over the dimensions: four independent FMA chains instead of one
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                int d = 0;
                for (; d <= dims - 4; d += 4)
                {
                    a0 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref q, d)), Vector512.LoadUnsafe(ref block, (nuint)(d * KeyBlock)), a0);
                    a1 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref q, d + 1)), Vector512.LoadUnsafe(ref block, (nuint)((d + 1) * KeyBlock)), a1);
                    a2 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref q, d + 2)), Vector512.LoadUnsafe(ref block, (nuint)((d + 2) * KeyBlock)), a2);
                    a3 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref q, d + 3)), Vector512.LoadUnsafe(ref block, (nuint)((d + 3) * KeyBlock)), a3);
                }
                for (; d < dims; d++)
                    a0 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref q, d)), Vector512.LoadUnsafe(ref block, (nuint)(d * KeyBlock)), a0);
                ((a0 + a1 + (a2 + a3)) * scale).StoreUnsafe(ref s, (nuint)t);
            }
            else if (Narrow)
            {
                Vector256<float> lo = default, hi = default;
                for (int d = 0; d < dims; d++)
                {
                    var qd = Vector256.Create(Unsafe.Add(ref q, d));
                    lo = Vector256.FusedMultiplyAdd(qd, Vector256.LoadUnsafe(ref block, (nuint)(d * KeyBlock)), lo);
                    hi = Vector256.FusedMultiplyAdd(qd, Vector256.LoadUnsafe(ref block, (nuint)(d * KeyBlock + 8)), hi);
                }
                (lo * scale).StoreUnsafe(ref s, (nuint)t);
                (hi * scale).StoreUnsafe(ref s, (nuint)(t + 8));
            }
            else
                for (int i = 0; i < KeyBlock; i++)
                {
                    float sum = 0;
                    for (int d = 0; d < dims; d++) sum += Unsafe.Add(ref q, d) * Unsafe.Add(ref block, d * KeyBlock + i);
                    Unsafe.Add(ref s, t + i) = sum * scale;
                }
        }
    }

    /// <summary>output[c] = Σ_t weights[t]·rows[t·width + c] for c &lt; width (a softmax-weighted sum of value rows),
    /// accumulated in registers 16 or 8 columns at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WeightedRowSum(ReadOnlySpan<float> weights, ref float rows, int width, Span<float> output)
    {
        int n = weights.Length, c = 0;
        ref float w = ref MemoryMarshal.GetReference(weights);
        ref float o = ref MemoryMarshal.GetReference(output);
        if (Wide)
            for (; c <= width - 16; c += 16)
            {
                // two rows per iteration into two sums: two independent FMA chains
                Vector512<float> even = default, odd = default;
                int t = 0;
                for (; t <= n - 2; t += 2)
                {
                    even = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref w, t)), Vector512.LoadUnsafe(ref rows, (nuint)((long)t * width + c)), even);
                    odd = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref w, t + 1)), Vector512.LoadUnsafe(ref rows, (nuint)((long)(t + 1) * width + c)), odd);
                }
                if (t < n) even = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref w, t)), Vector512.LoadUnsafe(ref rows, (nuint)((long)t * width + c)), even);
                (even + odd).StoreUnsafe(ref o, (nuint)c);
            }
        if (Narrow)
            for (; c <= width - 8; c += 8)
            {
                var acc = Vector256<float>.Zero;
                for (int t = 0; t < n; t++)
                    acc = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref w, t)), Vector256.LoadUnsafe(ref rows, (nuint)((long)t * width + c)), acc);
                acc.StoreUnsafe(ref o, (nuint)c);
            }
        for (; c < width; c++)
        {
            float sum = 0;
            for (int t = 0; t < n; t++) sum += Unsafe.Add(ref w, t) * Unsafe.Add(ref rows, (nint)((long)t * width + c));
            Unsafe.Add(ref o, c) = sum;
        }
    }

    /// <summary>softplus in place, as PyTorch computes it (threshold 20): x &gt; 20 ? x : log1p(exp(x)), with log1p(y)
    /// evaluated accurately as log(u)·y/(u − 1), u = 1 + y (so small Δ keep their relative precision).</summary>
    public static void Softplus(Span<float> values)
    {
        int i = 0, n = values.Length;
        ref float v = ref MemoryMarshal.GetReference(values);
        if (Wide)
            for (; i <= n - 16; i += 16)
            {
                var x = Vector512.LoadUnsafe(ref v, (nuint)i);
                var y = Exp(x);
                var u = y + Vector512<float>.One;
                var log1p = Vector512.ConditionalSelect(Vector512.Equals(u, Vector512<float>.One), y, Vector512.Log(u) * (y / (u - Vector512<float>.One)));
                Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(20f)), x, log1p).StoreUnsafe(ref v, (nuint)i);
            }
        else if (Narrow)
            for (; i <= n - 8; i += 8)
            {
                var x = Vector256.LoadUnsafe(ref v, (nuint)i);
                var y = Exp(x);
                var u = y + Vector256<float>.One;
                var log1p = Vector256.ConditionalSelect(Vector256.Equals(u, Vector256<float>.One), y, Vector256.Log(u) * (y / (u - Vector256<float>.One)));
                Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(20f)), x, log1p).StoreUnsafe(ref v, (nuint)i);
            }
        for (; i < n; i++)
        {
            float x = Unsafe.Add(ref v, i);
            Unsafe.Add(ref v, i) = x > 20 ? x : (float)Math.Log(1 + Math.Exp(x));
        }
    }
}
