using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using ArchLab.Engine.Matrices;
using ArchLab.Mixers;

namespace ArchLab.Engine.Layers;

/// <summary>
/// <see cref="Rwkv4TimeMix"/>'s step in the engine: token shift (x·μ + x_prev·(1 − μ)) for k, v, r; the three
/// projections; one step of the stable WKV recurrence per channel (the state (a, b, p) as in
/// <see cref="Kernels.Reference.Wkv4Reference.Step"/>); output W_o(σ(r) ⊙ wkv).
/// </summary>
public sealed class LeanRwkv4TimeMix(LeanMatrix key, LeanMatrix value, LeanMatrix receptance, LeanMatrix output,
                                     float[] mixK, float[] mixV, float[] mixR, float[] decay, float[] first) : ILeanLayer
{
    readonly int dim = mixK.Length, channels = decay.Length;
    readonly float[] keepK = OneMinus(mixK), keepV = OneMinus(mixV), keepR = OneMinus(mixR);
    readonly ProductGroup projections = new(key, value, receptance);

    internal static float[] OneMinus(float[] mix) => mix.Select(m => 1 - m).ToArray();

    public long WeightBytes => key.Bytes + value.Bytes + receptance.Bytes + output.Bytes;

    sealed class State : LeanLayerState
    {
        public required float[] Shift, A, B, P;           // [batch, dim], [batch, channels] × 3
        public required float[] Xk, Xv, Xr, K, V, R;      // scratch
        public override long Bytes => 4L * (Shift.Length + A.Length + B.Length + P.Length);
    }

    public LeanLayerState AllocateState(int batch, int maxLength, int threads)
    {
        var p = new float[batch * channels];
        Array.Fill(p, (float)Rwkv4TimeMixState.EmptyExponent);
        return new State
        {
            Shift = new float[batch * dim], A = new float[batch * channels], B = new float[batch * channels], P = p,
            Xk = new float[batch * dim], Xv = new float[batch * dim], Xr = new float[batch * dim],
            K = new float[batch * channels], V = new float[batch * channels], R = new float[batch * channels],
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    public void Step(float[] x, float[] y, LeanLayerState state, in StepContext context)
    {
        var s = (State)state;
        int batch = context.Batch;
        TokenShift(x, s.Shift, mixK, keepK, s.Xk, batch);
        TokenShift(x, s.Shift, mixV, keepV, s.Xv, batch);
        TokenShift(x, s.Shift, mixR, keepR, s.Xr, batch);
        projections.Multiply(batch, context.Pool, s.Xk, s.K, s.Xv, s.V, s.Xr, s.R);
        TensorPrimitives.Sigmoid(s.R.AsSpan(0, batch * channels), s.R);
        for (int b = 0; b < batch; b++) Wkv(s, b * channels);
        output.Multiply(s.R, y, batch, context.Pool);
        Array.Copy(x, s.Shift, batch * dim);
    }

    /// <summary>
    /// One sequence's WKV (row <paramref name="row"/> of the batch): wkv = (e^{p−q}·a + e^{u+k−q}·v) / (e^{p−q}·b + e^{u+k−q})
    /// with q = max(p, u+k), r ← r·wkv, then the state: p' = max(w+p, k), a' = e^{w+p−p'}·a + e^{k−p'}·v,
    /// b' = e^{w+p−p'}·b + e^{k−p'}. Sixteen (or eight) channels per step with the vector exp; the rest one at a time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Wkv(State s, int row)
    {
        int c = 0;
        ref float k0 = ref s.K[row], v0 = ref s.V[row], a0 = ref s.A[row], b0 = ref s.B[row], p0 = ref s.P[row], r0 = ref s.R[row];
        ref float u0 = ref first[0], w0 = ref decay[0];
        if (Simd.Wide)
            for (; c <= channels - 16; c += 16)
            {
                nuint i = (nuint)c;
                var k = Vector512.LoadUnsafe(ref k0, i); var v = Vector512.LoadUnsafe(ref v0, i);
                var a = Vector512.LoadUnsafe(ref a0, i); var bb = Vector512.LoadUnsafe(ref b0, i); var p = Vector512.LoadUnsafe(ref p0, i);
                var bonus = Vector512.LoadUnsafe(ref u0, i) + k;
                var q = Vector512.Max(p, bonus);
                Vector512<float> e1 = Simd.Exp(p - q), e2 = Simd.Exp(bonus - q);
                var wkv = (e1 * a + e2 * v) / (e1 * bb + e2);
                var decayed = Vector512.LoadUnsafe(ref w0, i) + p;
                var next = Vector512.Max(decayed, k);
                Vector512<float> d1 = Simd.Exp(decayed - next), d2 = Simd.Exp(k - next);
                (d1 * a + d2 * v).StoreUnsafe(ref a0, i);
                (d1 * bb + d2).StoreUnsafe(ref b0, i);
                next.StoreUnsafe(ref p0, i);
                (Vector512.LoadUnsafe(ref r0, i) * wkv).StoreUnsafe(ref r0, i);
            }
        else if (Simd.Narrow)
            for (; c <= channels - 8; c += 8)
            {
                nuint i = (nuint)c;
                var k = Vector256.LoadUnsafe(ref k0, i); var v = Vector256.LoadUnsafe(ref v0, i);
                var a = Vector256.LoadUnsafe(ref a0, i); var bb = Vector256.LoadUnsafe(ref b0, i); var p = Vector256.LoadUnsafe(ref p0, i);
                var bonus = Vector256.LoadUnsafe(ref u0, i) + k;
                var q = Vector256.Max(p, bonus);
                Vector256<float> e1 = Simd.Exp(p - q), e2 = Simd.Exp(bonus - q);
                var wkv = (e1 * a + e2 * v) / (e1 * bb + e2);
                var decayed = Vector256.LoadUnsafe(ref w0, i) + p;
                var next = Vector256.Max(decayed, k);
                Vector256<float> d1 = Simd.Exp(decayed - next), d2 = Simd.Exp(k - next);
                (d1 * a + d2 * v).StoreUnsafe(ref a0, i);
                (d1 * bb + d2).StoreUnsafe(ref b0, i);
                next.StoreUnsafe(ref p0, i);
                (Vector256.LoadUnsafe(ref r0, i) * wkv).StoreUnsafe(ref r0, i);
            }
        for (; c < channels; c++)
        {
            int i = row + c;
            float k = s.K[i], v = s.V[i], a = s.A[i], bb = s.B[i], p = s.P[i];
            float bonus = first[c] + k;
            float q = MathF.Max(p, bonus);
            float e1 = MathF.Exp(p - q), e2 = MathF.Exp(bonus - q);
            float wkv = (e1 * a + e2 * v) / (e1 * bb + e2);
            float decayed = decay[c] + p;
            float next = MathF.Max(decayed, k);
            float d1 = MathF.Exp(decayed - next), d2 = MathF.Exp(k - next);
            s.A[i] = d1 * a + d2 * v;
            s.B[i] = d1 * bb + d2;
            s.P[i] = next;
            s.R[i] *= wkv;
        }
    }

    /// <summary>x·μ + previous·(1 − μ) per channel, for every row of the batch.</summary>
    internal static void TokenShift(float[] x, float[] previous, float[] mix, float[] keep, float[] result, int batch)
    {
        int dim = mix.Length;
        for (int b = 0; b < batch; b++)
        {
            var row = result.AsSpan(b * dim, dim);
            TensorPrimitives.Multiply(x.AsSpan(b * dim, dim), mix, row);
            TensorPrimitives.MultiplyAdd(previous.AsSpan(b * dim, dim), keep, row, row); // not fused: the same bits as x·μ + p·(1 − μ)
        }
    }

    public void ImportState(MixerState? source, LeanLayerState target)
    {
        if (source is null) return;
        var from = MixerState.Require<Rwkv4TimeMixState>(source, "lean RWKV-4 time mixing");
        var s = (State)target;
        LeanBuilder.CopyInto(from.Shift, s.Shift); LeanBuilder.CopyInto(from.Wkv.A, s.A);
        LeanBuilder.CopyInto(from.Wkv.B, s.B); LeanBuilder.CopyInto(from.Wkv.P, s.P);
    }
}
