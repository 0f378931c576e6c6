using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using ArchLab.Engine.Matrices;
using ArchLab.Mixers;
using static TorchSharp.torch;

namespace ArchLab.Engine.Layers;

/// <summary>
/// <see cref="Attention"/>'s step in the engine: q, k, v projections, rotary positions (the pairs of
/// <see cref="RotaryEmbedding"/>'s layout turned by position·θ_i, angles in float32 as the TorchSharp model makes them),
/// the new key and value written into a preallocated
/// cache, then per query head softmax(q·kᵀ/√headDim)·v over every cached token (grouped-query: head h reads kv head
/// h / (heads/kvHeads)), then the output projection. Keys are cached in blocks of 16 tokens stored transposed,
/// [batch, kvHeads, maxLength/16, headDim, 16], so that the scores of 16 consecutive tokens are one vector of broadcast
/// multiply-adds over one contiguous 16·headDim block (no horizontal sums, no strided reads); values row-major,
/// [batch, kvHeads, maxLength, headDim], summed in registers. The per-head work is split over the
/// pool's threads once the cache is long enough to pay for it.
/// </summary>
public sealed class LeanAttention(LeanMatrix wq, LeanMatrix wk, LeanMatrix wv, LeanMatrix wo,
                                  int heads, int kvHeads, int headDim, RotaryEmbedding? rope) : ILeanLayer
{
    readonly float[]? inverseFrequencies = rope?.InverseFrequencies(); // [rotary dims / 2]
    readonly bool halves = rope?.Halves ?? false;
    readonly ProductGroup projections = new(wq, wk, wv);

    /// <summary>Cached values (keys and values) read below which a step's attention runs on the calling thread.</summary>
    const long ParallelThreshold = 64 * 1024;

    readonly float scale = 1 / MathF.Sqrt(headDim);
    int Heads => heads;
    int KvHeads => kvHeads;
    int HeadDim => headDim;

    public long WeightBytes => wq.Bytes + wk.Bytes + wv.Bytes + wo.Bytes;

    sealed class State : LeanLayerState
    {
        public required float[] Keys, Values;       // [batch, kvHeads, maxLength/16, headDim, 16] and [batch, kvHeads, maxLength, headDim]
        public required float[] Q, K, V, Mixed;     // [batch, heads·headDim] / [batch, kvHeads·headDim]
        public required float[] Cos, Sin;           // [rotary dims / 2]
        public required float[] Scores;             // [threads, maxLength]
        public required int MaxLength;
        public AttendJob? Job;
        public override long Bytes => 4L * (Keys.Length + Values.Length);
    }

    public LeanLayerState AllocateState(int batch, int maxLength, int threads)
    {
        maxLength = (maxLength + Simd.KeyBlock - 1) / Simd.KeyBlock * Simd.KeyBlock; // whole key blocks
        var state = new State
        {
            Keys = new float[(long)batch * kvHeads * maxLength * headDim],
        Values = new float[(long)batch * kvHeads * maxLength * headDim],
        Q = new float[batch * heads * headDim], K = new float[batch * kvHeads * headDim], V = new float[batch * kvHeads * headDim],
        Mixed = new float[batch * heads * headDim],
        Cos = new float[inverseFrequencies?.Length ?? 0], Sin = new float[inverseFrequencies?.Length ?? 0],
        Scores = new float[threads * maxLength],
        MaxLength = maxLength,
        };
        state.Job = new AttendJob(this, state);
        return state;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    public void Step(float[] x, float[] y, LeanLayerState state, in StepContext context)
    {
        var s = (State)state;
        int batch = context.Batch, position = context.Position;
        projections.Multiply(batch, context.Pool, x, s.Q, x, s.K, x, s.V);
        if (inverseFrequencies is not null)
        {
            for (int i = 0; i < inverseFrequencies.Length; i++)
            {
                float angle = position * inverseFrequencies[i];
                s.Cos[i] = MathF.Cos(angle);
                s.Sin[i] = MathF.Sin(angle);
            }
            Rotate(s.Q, batch * heads, s);
            Rotate(s.K, batch * kvHeads, s);
        }
        for (int b = 0; b < batch; b++)
            for (int g = 0; g < kvHeads; g++)
            {
                long block = CacheOffset(b, g, 0, s.MaxLength);
                int head = (b * kvHeads + g) * headDim;
                long keyBlock = block + (long)(position / Simd.KeyBlock) * headDim * Simd.KeyBlock + position % Simd.KeyBlock;
                for (int d = 0; d < headDim; d++) s.Keys[keyBlock + d * Simd.KeyBlock] = s.K[head + d];
                s.V.AsSpan(head, headDim).CopyTo(s.Values.AsSpan((int)(block + (long)position * headDim), headDim));
            }
        var job = s.Job!;
        job.Batch = batch;
        job.Position = position;
        long work = 2L * batch * heads * (position + 1) * headDim;
        if (context.Pool.Threads == 1 || work < ParallelThreshold) job.Execute(0, 1);
        else context.Pool.Run(job);
        wo.Multiply(s.Mixed, y, batch, context.Pool);
    }

    /// <summary>Start of (sequence b, kv head g)'s block in either cache array, plus token t's row in the values.</summary>
    long CacheOffset(int b, int g, int t, int maxLength) => (((long)b * kvHeads + g) * maxLength + t) * headDim;

    /// <summary>Turns each pair of every head vector by the step's angles: (x[2i], x[2i+1]), or (x[i], x[i + d/2]) in the
    /// halves layout, over the first d rotary dimensions.</summary>
    void Rotate(float[] vectors, int count, State s)
    {
        int pairs = s.Cos.Length;
        for (int v = 0; v < count; v++)
        {
            var head = vectors.AsSpan(v * headDim, headDim);
            for (int i = 0; i < pairs; i++)
            {
                int i0 = halves ? i : 2 * i, i1 = halves ? i + pairs : 2 * i + 1;
                float x0 = head[i0], x1 = head[i1], c = s.Cos[i], sn = s.Sin[i];
                head[i0] = x0 * c - x1 * sn;
                head[i1] = x0 * sn + x1 * c;
            }
        }
    }

    /// <summary>Softmax attention of every (sequence, query head) pair over the cache; part p takes every p-th pair.</summary>
    sealed class AttendJob(LeanAttention layer, State s) : IPoolJob
    {
        public int Batch, Position;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
        public void Execute(int part, int parts)
        {
            int batch = Batch, length = Position + 1, hd = layer.HeadDim, group = layer.Heads / layer.KvHeads;
            var scores = s.Scores.AsSpan(part * s.MaxLength, length);
            ref float keys = ref MemoryMarshal.GetArrayDataReference(s.Keys);
            ref float values = ref MemoryMarshal.GetArrayDataReference(s.Values);
            for (int pair = part; pair < batch * layer.Heads; pair += parts)
            {
                int b = pair / layer.Heads, h = pair % layer.Heads, g = h / group;
                ref float q = ref s.Q[pair * hd];
                long start = layer.CacheOffset(b, g, 0, s.MaxLength);
                Simd.BlockedDots(ref q, ref Unsafe.Add(ref keys, (nint)start), hd, s.Scores.AsSpan(part * s.MaxLength, s.MaxLength), length, layer.scale);
                float max = TensorPrimitives.Max(scores);
                TensorPrimitives.Subtract(scores, max, scores);
                TensorPrimitives.Exp(scores, scores);
                TensorPrimitives.Multiply(scores, 1 / TensorPrimitives.Sum(scores), scores);
                Simd.WeightedRowSum(scores, ref Unsafe.Add(ref values, (nint)start), hd, s.Mixed.AsSpan(pair * hd, hd));
            }
        }
    }

    public void ImportState(MixerState? source, LeanLayerState target)
    {
        var s = (State)target;
        if (source is null) return;
        var cache = MixerState.Require<KvCache>(source, "lean attention");
        var (keys, values) = cache.Contents;
        int batch = (int)keys.shape[0], length = (int)keys.shape[2];
        if (batch * kvHeads * (long)s.MaxLength * headDim != s.Keys.Length || length > s.MaxLength)
            throw new ArgumentException($"KV cache [{string.Join(", ", keys.shape)}] does not fit the lean state (max length {s.MaxLength})");
        var k = LeanMatrix.ToFloats(keys);
        var v = LeanMatrix.ToFloats(values);
        for (int b = 0; b < batch; b++)
            for (int g = 0; g < kvHeads; g++)
            {
                int from = (b * kvHeads + g) * length * headDim;
                long to = CacheOffset(b, g, 0, s.MaxLength);
                Array.Copy(v, from, s.Values, to, length * headDim);
                for (int t = 0; t < length; t++)
                    for (int d = 0; d < headDim; d++)
                        s.Keys[to + (long)(t / Simd.KeyBlock) * headDim * Simd.KeyBlock + d * Simd.KeyBlock + t % Simd.KeyBlock] = k[from + t * headDim + d];
            }
    }

    /// <summary>Writes random keys and values into the whole cache, so the first <paramref name="length"/> positions hold
    /// arbitrary tokens (benchmarks: a step's cost does not depend on what the cache holds, and a real prefill of 64k tokens
    /// costs O(n²)).</summary>
    public bool TryFillArbitrary(LeanLayerState state, int length, Random random)
    {
        var s = (State)state;
        for (int i = 0; i < s.Keys.Length; i++)
        {
            s.Keys[i] = (float)(random.NextDouble() - 0.5);
            s.Values[i] = (float)(random.NextDouble() - 0.5);
        }
        return true;
    }
}
