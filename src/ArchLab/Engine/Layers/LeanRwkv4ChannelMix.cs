using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using ArchLab.Engine.Matrices;
using ArchLab.Mixers;

namespace ArchLab.Engine.Layers;

/// <summary><see cref="Rwkv4ChannelMix"/>'s step in the engine: token shift for k and r, then σ(W_r x̃_r) ⊙ W_v(relu(W_k x̃_k)²).</summary>
public sealed class LeanRwkv4ChannelMix(LeanMatrix key, LeanMatrix receptance, LeanMatrix value, float[] mixK, float[] mixR) : ILeanLayer
{
    readonly int dim = mixK.Length, hidden = key.Rows;
    readonly float[] keepK = LeanRwkv4TimeMix.OneMinus(mixK), keepR = LeanRwkv4TimeMix.OneMinus(mixR);
    readonly ProductGroup keyAndReceptance = new(key, receptance);

    public long WeightBytes => key.Bytes + receptance.Bytes + value.Bytes;

    sealed class State : LeanLayerState
    {
        public required float[] Shift;                 // [batch, dim]
        public required float[] Xk, Xr, K, R;          // scratch
        public override long Bytes => 4L * Shift.Length;
    }

    public LeanLayerState AllocateState(int batch, int maxLength, int threads) => new State
    {
        Shift = new float[batch * dim], Xk = new float[batch * dim], Xr = new float[batch * dim],
        K = new float[batch * hidden], R = new float[batch * dim],
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    public void Step(float[] x, float[] y, LeanLayerState state, in StepContext context)
    {
        var s = (State)state;
        int batch = context.Batch;
        LeanRwkv4TimeMix.TokenShift(x, s.Shift, mixK, keepK, s.Xk, batch);
        LeanRwkv4TimeMix.TokenShift(x, s.Shift, mixR, keepR, s.Xr, batch);
        keyAndReceptance.Multiply(batch, context.Pool, s.Xk, s.K, s.Xr, s.R);
        var k = s.K.AsSpan(0, batch * hidden);
        TensorPrimitives.Max(k, 0f, k);
        TensorPrimitives.Multiply(k, k, k);
        value.Multiply(s.K, y, batch, context.Pool);
        var r = s.R.AsSpan(0, batch * dim);
        TensorPrimitives.Sigmoid(r, r);
        TensorPrimitives.Multiply(r, y.AsSpan(0, batch * dim), y.AsSpan(0, batch * dim));
        Array.Copy(x, s.Shift, batch * dim);
    }

    public void ImportState(MixerState? source, LeanLayerState target)
    {
        if (source is null) return;
        LeanBuilder.CopyInto(MixerState.Require<Rwkv4ChannelMixState>(source, "lean RWKV-4 channel mixing").Shift, ((State)target).Shift);
    }
}
