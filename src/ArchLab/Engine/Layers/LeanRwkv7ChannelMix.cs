using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using ArchLab.Engine.Matrices;
using ArchLab.Mixers;

namespace ArchLab.Engine.Layers;

/// <summary>
/// <see cref="Rwkv7ChannelMix"/>'s step in the engine: one token shift x_k = x + (x' − x) ⊙ μ_k towards the previous
/// input x' (the state), then W_v relu(W_k x_k)². Unlike RWKV-4's (<see cref="LeanRwkv4ChannelMix"/>) there is no
/// receptance gate, and the mix is written as the TorchSharp module writes it, so float32 results agree to the rounding.
/// </summary>
public sealed class LeanRwkv7ChannelMix(LeanMatrix key, LeanMatrix value, float[] mixK) : ILeanLayer
{
    readonly int dim = mixK.Length, hidden = key.Rows;

    public long WeightBytes => key.Bytes + value.Bytes;

    sealed class State : LeanLayerState
    {
        public required float[] Shift;     // [batch, dim]: the previous token's input
        public required float[] Xk, K;     // scratch: the shifted input, the hidden activations
        public override long Bytes => 4L * Shift.Length;
    }

    public LeanLayerState AllocateState(int batch, int maxLength, int threads) => new State
    {
        Shift = new float[batch * dim], Xk = new float[batch * dim], K = new float[batch * hidden],
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    public void Step(float[] x, float[] y, LeanLayerState state, in StepContext context)
    {
        var s = (State)state;
        int batch = context.Batch;
        for (int b = 0; b < batch; b++)
            for (int i = 0, o = b * dim; i < dim; i++, o++) s.Xk[o] = x[o] + (s.Shift[o] - x[o]) * mixK[i];
        key.Multiply(s.Xk, s.K, batch, context.Pool);
        var k = s.K.AsSpan(0, batch * hidden);
        TensorPrimitives.Max(k, 0f, k);
        TensorPrimitives.Multiply(k, k, k);
        value.Multiply(s.K, y, batch, context.Pool);
        Array.Copy(x, s.Shift, batch * dim);
    }

    public void ImportState(MixerState? source, LeanLayerState target)
    {
        if (source is null) return;
        LeanBuilder.CopyInto(MixerState.Require<Rwkv4ChannelMixState>(source, "lean RWKV-7 channel mixing").Shift, ((State)target).Shift);
    }
}
