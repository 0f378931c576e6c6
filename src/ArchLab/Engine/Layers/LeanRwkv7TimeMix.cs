using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using ArchLab.Engine.Matrices;
using ArchLab.Mixers;

namespace ArchLab.Engine.Layers;

/// <summary>A low-rank ("LoRA") map of RWKV-7, x → Up(act(Down x)): Down is the module's [dim, D] first matrix transposed
/// ([D, dim]), Up its [D, dim] second matrix transposed ([dim, D]), both as engine matrices (y = W·x).</summary>
public sealed record LeanLowRank(LeanMatrix Down, LeanMatrix Up)
{
    public int Rank => Down.Rows;
    public long Bytes => Down.Bytes + Up.Bytes;
}

/// <summary>Everything a <see cref="LeanRwkv7TimeMix"/> reads, in the engine's layout: the four dim×dim projections, the
/// LoRA maps (no value LoRA in the first RWKV-7 layer), the six token-shift mixes and the per-channel vectors, all [dim]
/// except the bonus r_k [heads·N] (row-major as the module's [heads, N]).</summary>
public sealed class LeanRwkv7TimeMixWeights
{
    public required LeanMatrix Receptance, Key, Value, Output;
    public required LeanLowRank Decay, Iclr, Gate;
    public required LeanLowRank? ValueMix;                       // null: the first RWKV-7 layer (it sets v_first)
    public required float[] MixR, MixW, MixK, MixV, MixA, MixG;  // x_r … x_g
    public required float[] DecayBias, IclrBias;                 // w0, a0
    public required float[]? ValueBias;                          // v0 (null with ValueMix)
    public required float[] KeyNorm, KeyIclr, Bonus;             // k_k, k_a, r_k
    public required float[] GroupNormWeight, GroupNormBias;      // ln_x
    public required int Heads;
    public required float GroupNormEps;
}

/// <summary>
/// The engine's carrier of RWKV-7's value residual (<see cref="Rwkv7ValueResidual"/>): the first RWKV-7 layer publishes its
/// value buffer [batch, dim] every step, and the later layers read it in the same step (the layers run in order, and the
/// first layer's buffer is not written again until its next step). One per model (<see cref="LeanBuilder.Shared"/>);
/// it holds a reference, no copy, so a step allocates nothing. A model steps one batch at a time (as its matrices).
/// </summary>
public sealed class LeanRwkv7ValueResidual
{
    float[]? first;
    int batch;

    internal void Publish(float[] values, int batch) => (first, this.batch) = (values, batch);

    internal float[] Read(int batch) =>
        first is not null && this.batch == batch ? first : throw new InvalidOperationException(
            "a later RWKV-7 layer needs the first RWKV-7 layer's value of the same step (value residual): step the model's layers in order");
}

/// <summary>
/// <see cref="Rwkv7TimeMix"/>'s step in the engine. Per token, with x' the previous input (the state):
/// six token-shift mixes x_• = x + (x' − x) ⊙ μ_•; r, k, v projections; decay log w = −exp(−softplus(−(w0 + tanh(x_w W1) W2)) − ½);
/// the in-context learning rate a = σ(a0 + x_a A1 A2); gate g = σ(x_g G1) G2; in later layers the value residual
/// v ← v + (v_first − v) ⊙ σ(v0 + x_v V1 V2); then per head κ̂ = normalize(k ⊙ k_k), k ← k ⊙ (1 + (a − 1) ⊙ k_a) and the
/// generalised delta rule on the state S [N_v, N_k] (<see cref="Kernels.Reference.Wkv7Reference.Step"/>), row by row:
/// S_i ← S_i ⊙ w − (S_i·κ̂)(a ⊙ κ̂) + v_i k, y_i = S_i·r; GroupNorm of y per head (ln_x), plus the bonus (Σ r ⊙ k ⊙ r_k) v,
/// times g, through W_o. The per-head part is split over the pool's threads (each head on one thread: same bits for any
/// thread count) once it is large enough to pay for the hand-off.
/// </summary>
public sealed class LeanRwkv7TimeMix(LeanRwkv7TimeMixWeights weights, LeanRwkv7ValueResidual valueResidual) : ILeanLayer
{
    /// <summary>Per-head multiply-adds below which the head loop runs on the calling thread alone.</summary>
    const long ParallelThreshold = 64 * 1024;

    readonly LeanRwkv7TimeMixWeights w = weights;
    readonly int dim = weights.MixR.Length, heads = weights.Heads, headSize = weights.MixR.Length / weights.Heads;
    readonly int maxRank = new[] { weights.Decay.Rank, weights.Iclr.Rank, weights.Gate.Rank, weights.ValueMix?.Rank ?? 0 }.Max();

    public long WeightBytes => w.Receptance.Bytes + w.Key.Bytes + w.Value.Bytes + w.Output.Bytes
                               + w.Decay.Bytes + w.Iclr.Bytes + w.Gate.Bytes + (w.ValueMix?.Bytes ?? 0);

    sealed class State : LeanLayerState
    {
        public required float[] Shift, S;                        // [batch, dim], [batch, heads, N_v, N_k]
        public required float[] Diff, Mixed, Low;                // x' − x, one mixed input, a LoRA's inner activations
        public required float[] R, Decay, K, V, Iclr, G, Mix;    // [batch, dim] each; Mix: the value residual's σ(…)
        public required float[] Kappa, Removal, Y;               // κ̂, a ⊙ κ̂, the gated head outputs
        public HeadJob? Job;
        public override long Bytes => 4L * (Shift.Length + S.Length);
    }

    public LeanLayerState AllocateState(int batch, int maxLength, int threads)
    {
        int n = batch * dim;
        var state = new State
        {
            Shift = new float[n], S = new float[n * headSize], Diff = new float[n], Mixed = new float[n], Low = new float[batch * maxRank],
            R = new float[n], Decay = new float[n], K = new float[n], V = new float[n], Iclr = new float[n], G = new float[n],
            Mix = new float[n], Kappa = new float[n], Removal = new float[n], Y = new float[n],
        };
        state.Job = new HeadJob(this, state);
        return state;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    public void Step(float[] x, float[] y, LeanLayerState state, in StepContext context)
    {
        var s = (State)state;
        int batch = context.Batch, n = batch * dim;
        var pool = context.Pool;
        TensorPrimitives.Subtract(s.Shift.AsSpan(0, n), x.AsSpan(0, n), s.Diff);

        ShiftMix(x, s, w.MixR, batch);
        w.Receptance.Multiply(s.Mixed, s.R, batch, pool);

        ShiftMix(x, s, w.MixW, batch);                            // log w = −exp(−softplus(−(w0 + tanh(x_w W1) W2)) − ½)
        LowRank(w.Decay, s, s.Decay, batch, pool, Tanh);
        var decay = s.Decay.AsSpan(0, n);
        AddPerChannel(decay, w.DecayBias);
        TensorPrimitives.Negate(decay, decay);
        Simd.Softplus(decay);
        TensorPrimitives.Negate(decay, decay);
        TensorPrimitives.Subtract(decay, 0.5f, decay);
        TensorPrimitives.Exp(decay, decay);
        TensorPrimitives.Negate(decay, decay);
        TensorPrimitives.Exp(decay, decay);                       // w itself, as the reference step exponentiates log w

        ShiftMix(x, s, w.MixK, batch);
        w.Key.Multiply(s.Mixed, s.K, batch, pool);

        ShiftMix(x, s, w.MixV, batch);
        w.Value.Multiply(s.Mixed, s.V, batch, pool);
        if (w.ValueMix is null) valueResidual.Publish(s.V, batch);
        else
        {
            var first = valueResidual.Read(batch);
            LowRank(w.ValueMix, s, s.Mix, batch, pool, activation: null);
            var mix = s.Mix.AsSpan(0, n);
            AddPerChannel(mix, w.ValueBias!);
            TensorPrimitives.Sigmoid(mix, mix);
            for (int i = 0; i < n; i++) s.V[i] += (first[i] - s.V[i]) * mix[i];
        }

        ShiftMix(x, s, w.MixA, batch);
        LowRank(w.Iclr, s, s.Iclr, batch, pool, activation: null);
        AddPerChannel(s.Iclr.AsSpan(0, n), w.IclrBias);
        TensorPrimitives.Sigmoid(s.Iclr.AsSpan(0, n), s.Iclr);

        ShiftMix(x, s, w.MixG, batch);
        LowRank(w.Gate, s, s.G, batch, pool, Sigmoid);

        var job = s.Job!;
        job.Batch = batch;
        long work = 9L * batch * dim * headSize;
        if (pool.Threads == 1 || work < ParallelThreshold) job.Execute(0, 1);
        else pool.Run(job);
        w.Output.Multiply(s.Y, y, batch, pool);
        Array.Copy(x, s.Shift, n);
    }

    /// <summary>Mixed = x + (x' − x) ⊙ μ for every row (the TorchSharp module's order of operations).</summary>
    void ShiftMix(float[] x, State s, float[] mix, int batch)
    {
        for (int b = 0; b < batch; b++)
        {
            int row = b * dim;
            var mixed = s.Mixed.AsSpan(row, dim);
            TensorPrimitives.Multiply(s.Diff.AsSpan(row, dim), mix, mixed);
            TensorPrimitives.Add(x.AsSpan(row, dim), mixed, mixed);
        }
    }

    /// <summary>result = Up(act(Down · Mixed)) for every row; the inner activations in Low.</summary>
    static void LowRank(LeanLowRank map, State s, float[] result, int batch, WorkerPool pool, SpanAction? activation)
    {
        map.Down.Multiply(s.Mixed, s.Low, batch, pool);
        activation?.Invoke(s.Low.AsSpan(0, batch * map.Rank));
        map.Up.Multiply(s.Low, result, batch, pool);
    }

    delegate void SpanAction(Span<float> values);

    static readonly SpanAction Tanh = v => TensorPrimitives.Tanh(v, v);
    static readonly SpanAction Sigmoid = v => TensorPrimitives.Sigmoid(v, v);

    void AddPerChannel(Span<float> rows, float[] bias)
    {
        for (int row = 0; row < rows.Length; row += dim) TensorPrimitives.Add(rows.Slice(row, dim), bias, rows.Slice(row, dim));
    }

    /// <summary>The per-head part of a step for every (sequence, head) pair; part p takes every p-th pair. Each pair reads
    /// and writes only its own head's slices, so the parts never share a value.</summary>
    sealed class HeadJob(LeanRwkv7TimeMix layer, State s) : IPoolJob
    {
        public int Batch;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
        public void Execute(int part, int parts)
        {
            int heads = layer.heads, size = layer.headSize;
            var w = layer.w;
            for (int pair = part; pair < Batch * heads; pair += parts)
            {
                int h = pair % heads, at = pair * size, channel = h * size;
                var r = s.R.AsSpan(at, size);
                var decay = s.Decay.AsSpan(at, size);
                var k = s.K.AsSpan(at, size);
                var v = s.V.AsSpan(at, size);
                var iclr = s.Iclr.AsSpan(at, size);
                var kappa = s.Kappa.AsSpan(at, size);
                var removal = s.Removal.AsSpan(at, size);
                var y = s.Y.AsSpan(at, size);

                // κ̂ = k ⊙ k_k / max(‖k ⊙ k_k‖, 1e−12) (torch's normalize), then k ← k ⊙ (1 + (a − 1) ⊙ k_a)
                TensorPrimitives.Multiply(k, w.KeyNorm.AsSpan(channel, size), kappa);
                float norm = MathF.Max(MathF.Sqrt(TensorPrimitives.SumOfSquares(kappa)), 1e-12f);
                TensorPrimitives.Divide(kappa, norm, kappa);
                for (int j = 0; j < size; j++) k[j] *= 1 + (iclr[j] - 1) * w.KeyIclr[channel + j];
                TensorPrimitives.Multiply(kappa, iclr, removal);

                // S_i ← S_i ⊙ w + (S_i·(−κ̂))(κ̂ ⊙ a) + v_i k;  y_i = S_i·r  (row i: value channel i of the head)
                var state = s.S.AsSpan(pair * size * size, size * size);
                for (int i = 0; i < size; i++)
                    y[i] = Simd.DeltaRuleRow(ref state[i * size], ref kappa[0], ref decay[0], ref removal[0], ref k[0], v[i], ref r[0], size);

                // GroupNorm per head (biased variance), the bonus (Σ r ⊙ k ⊙ r_k)·v, the gate
                float mean = TensorPrimitives.Sum(y) / size;
                float variance = 0;
                foreach (float value in y) variance += (value - mean) * (value - mean);
                float inverse = 1 / MathF.Sqrt(variance / size + w.GroupNormEps);
                float bonus = 0;
                for (int j = 0; j < size; j++) bonus += r[j] * k[j] * w.Bonus[channel + j];
                var g = s.G.AsSpan(at, size);
                for (int i = 0; i < size; i++)
                    y[i] = ((y[i] - mean) * inverse * w.GroupNormWeight[channel + i] + w.GroupNormBias[channel + i] + bonus * v[i]) * g[i];
            }
        }
    }

    public void ImportState(MixerState? source, LeanLayerState target)
    {
        if (source is null) return;
        var from = MixerState.Require<Rwkv7TimeMixState>(source, "lean RWKV-7 time mixing");
        var s = (State)target;
        LeanBuilder.CopyInto(from.Shift, s.Shift);
        LeanBuilder.CopyInto(from.Wkv, s.S);   // both [batch, heads, N_v, N_k]
    }
}
