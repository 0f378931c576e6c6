using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using ArchLab.Engine.Matrices;
using ArchLab.Mixers;

namespace ArchLab.Engine.Layers;

/// <summary>
/// <see cref="Retention"/>'s recurrent form in the engine (torchscale recurrent_forward): q, k (scaled by keyDim^−½), v, g
/// projections; q and k turned by position·θ (theta_shift); per head s' = s·γ + 1 and
/// Kv' = Kv·√s·γ/√s' + k vᵀ/√s'; o = q·Kv'; RMS norm per head (no affine), swish(g) gate, output projection.
/// The scale s is per head and shared by the batch (every sequence is at the same position).
/// </summary>
public sealed class LeanRetention(LeanMatrix q, LeanMatrix k, LeanMatrix v, LeanMatrix g, LeanMatrix output,
                                  int heads, int keyDim, int valueDim, float scaling, float eps, float[] logDecay, float[] angle) : ILeanLayer
{
    readonly float[] gamma = logDecay.Select(MathF.Exp).ToArray();
    readonly ProductGroup projections = new(q, k, v, g);

    public long WeightBytes => q.Bytes + k.Bytes + v.Bytes + g.Bytes + output.Bytes;

    sealed class State : LeanLayerState
    {
        public required float[] Kv, Scale;                    // [batch, heads, keyDim, valueDim], [heads]
        public required float[] Q, K, V, G, O, Sin, Cos;      // scratch
        public override long Bytes => 4L * (Kv.Length + Scale.Length);
    }

    public LeanLayerState AllocateState(int batch, int maxLength, int threads) => new State
    {
        Kv = new float[batch * heads * keyDim * valueDim], Scale = new float[heads],
        Q = new float[batch * heads * keyDim], K = new float[batch * heads * keyDim], V = new float[batch * heads * valueDim],
        G = new float[batch * heads * valueDim], O = new float[batch * heads * valueDim], Sin = new float[keyDim], Cos = new float[keyDim],
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    public void Step(float[] x, float[] y, LeanLayerState state, in StepContext context)
    {
        var s = (State)state;
        int batch = context.Batch;
        projections.Multiply(batch, context.Pool, x, s.Q, x, s.K, x, s.V, x, s.G);
        TensorPrimitives.Multiply(s.K.AsSpan(0, batch * heads * keyDim), scaling, s.K);
        for (int i = 0; i < keyDim; i++)
        {
            float phase = context.Position * angle[i];
            s.Sin[i] = MathF.Sin(phase);
            s.Cos[i] = MathF.Cos(phase);
        }
        ThetaShift(s.Q, batch * heads, s);
        ThetaShift(s.K, batch * heads, s);

        for (int h = 0; h < heads; h++)
        {
            float scale = s.Scale[h], next = scale * gamma[h] + 1;
            float carry = MathF.Sqrt(scale) * gamma[h] / MathF.Sqrt(next), inverseRoot = 1 / MathF.Sqrt(next);
            for (int b = 0; b < batch; b++)
            {
                int head = b * heads + h;
                var kv = s.Kv.AsSpan(head * keyDim * valueDim, keyDim * valueDim);
                var vRow = s.V.AsSpan(head * valueDim, valueDim);
                var o = s.O.AsSpan(head * valueDim, valueDim);
                o.Clear();
                for (int i = 0; i < keyDim; i++)
                {
                    float ki = s.K[head * keyDim + i] * inverseRoot;
                    Simd.DecayAddAndRead(ref kv[i * valueDim], carry, ki, ref vRow[0], s.Q[head * keyDim + i], ref o[0], valueDim);
                }
                float inverse = 1 / MathF.Sqrt(TensorPrimitives.SumOfSquares(o) / valueDim + eps);
                TensorPrimitives.Multiply(o, inverse, o);
            }
            s.Scale[h] = next;
        }
        var gate = s.G.AsSpan(0, batch * heads * valueDim);
        var sig = s.V.AsSpan(0, gate.Length); // v is no longer needed: reuse it for σ(g)
        TensorPrimitives.Sigmoid(gate, sig);
        TensorPrimitives.Multiply(gate, sig, gate);
        TensorPrimitives.Multiply(gate, s.O.AsSpan(0, gate.Length), gate);
        output.Multiply(s.G, y, batch, context.Pool);
    }

    /// <summary>x·cos + rotate_every_two(x)·sin, with rotate_every_two mapping pairs (a, b) → (−b, a).</summary>
    void ThetaShift(float[] vectors, int count, State s)
    {
        for (int n = 0; n < count; n++)
        {
            var head = vectors.AsSpan(n * keyDim, keyDim);
            for (int i = 0; i < keyDim; i += 2)
            {
                float a = head[i], b = head[i + 1];
                head[i] = a * s.Cos[i] - b * s.Sin[i];
                head[i + 1] = b * s.Cos[i + 1] + a * s.Sin[i + 1];
            }
        }
    }

    public void ImportState(MixerState? source, LeanLayerState target)
    {
        if (source is null) return;
        var from = MixerState.Require<RetentionState>(source, "lean retention");
        var s = (State)target;
        LeanBuilder.CopyInto(from.Kv, s.Kv);
        LeanBuilder.CopyInto(from.Scale, s.Scale);
    }
}
