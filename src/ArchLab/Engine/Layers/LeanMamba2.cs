using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using ArchLab.Engine.Matrices;
using ArchLab.Mixers;

namespace ArchLab.Engine.Layers;

/// <summary>
/// <see cref="Mamba2"/>'s step in the engine (the official Mamba2.step with selective_state_update): [z, xBC, dt] =
/// in_proj(u); the causal depthwise conv over x, B, C (its window is the state) and SiLU; Δ = softplus(dt + dt_bias) per
/// head; per head h (reading group g = h / (H/G)) and channel p: S_hp = exp(Δ_h·A_h)·S_hp + (Δ_h·x_hp)·B_g,
/// y_hp = S_hp·C_g + D_h·x_hp; the gated RMSNorm per group; out_proj.
/// </summary>
public sealed class LeanMamba2 : ILeanLayer
{
    readonly LeanMatrix inProj, outProj;
    /// <summary>The causal conv over x, B and C; its window is kept [batch, kernel − 1, channels].</summary>
    readonly LeanCausalConvolution convolution;
    readonly float[] dtBias, a, d, normWeight;
    readonly int inner, heads, headDim, groups, stateSize, kernel, channels;
    readonly bool normBeforeGate;

    public LeanMamba2(LeanMatrix inProj, LeanMatrix outProj, float[] convWeight, float[]? convBias, float[] dtBias, float[] a,
                      float[] d, float[] normWeight, int headDim, int groups, int stateSize, int kernel, bool normBeforeGate)
    {
        (this.inProj, this.outProj, this.dtBias, this.a, this.d, this.normWeight) = (inProj, outProj, dtBias, a, d, normWeight);
        (this.headDim, this.groups, this.stateSize, this.kernel, this.normBeforeGate) = (headDim, groups, stateSize, kernel, normBeforeGate);
        inner = normWeight.Length;
        heads = inner / headDim;
        channels = inner + 2 * groups * stateSize;
        convolution = new LeanCausalConvolution(convWeight, convBias, kernel);
    }

    public long WeightBytes => inProj.Bytes + outProj.Bytes + convolution.WeightBytes;

    sealed class State : LeanLayerState
    {
        /// <summary>The conv window [batch, kernel − 1, channels] and the SSM state [batch, heads, stateSize, headDim]
        /// (TorchSharp keeps it [batch, heads, headDim, stateSize]; here a vector holds one state index of a head's
        /// neighbouring channels).</summary>
        public required float[] Conv, Ssm;
        public required float[] Projected, Xbc, Dx, Y;  // scratch: in_proj's output, the conv's, one head's Δ·x, the SSM's
        public override long Bytes => 4L * (Conv.Length + Ssm.Length);
    }

    public LeanLayerState AllocateState(int batch, int maxLength, int threads) => new State
    {
        Conv = new float[convolution.WindowLength(batch)], Ssm = new float[batch * heads * headDim * stateSize],
        Projected = new float[batch * inProj.Rows], Xbc = new float[batch * channels], Dx = new float[headDim],
        Y = new float[batch * inner],
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    public void Step(float[] x, float[] y, LeanLayerState state, in StepContext context)
    {
        var s = (State)state;
        int batch = context.Batch, window = kernel - 1, rows = inProj.Rows;
        inProj.Multiply(x, s.Projected, batch, context.Pool);
        for (int b = 0; b < batch; b++)
        {
            var projected = s.Projected.AsSpan(b * rows, rows);
            var conv = s.Xbc.AsSpan(b * channels, channels);
            convolution.Step(projected.Slice(inner, channels), conv, s.Conv.AsSpan(b * window * channels, window * channels));
            Silu(conv, conv);

            var delta = projected.Slice(inner + channels, heads);
            TensorPrimitives.Add(delta, dtBias, delta);
            Simd.Softplus(delta);
            var xs = conv[..inner];
            var output = s.Y.AsSpan(b * inner, inner);
            for (int h = 0; h < heads; h++)
            {
                int g = h / (heads / groups);
                var bIn = conv.Slice(inner + g * stateSize, stateSize);
                var cIn = conv.Slice(inner + (groups + g) * stateSize, stateSize);
                float decay = MathF.Exp(delta[h] * a[h]);
                var xHead = xs.Slice(h * headDim, headDim);
                var dx = s.Dx.AsSpan(0, headDim);
                var yHead = output.Slice(h * headDim, headDim);
                TensorPrimitives.Multiply(xHead, delta[h], dx);
                TensorPrimitives.Multiply(xHead, d[h], yHead); // D·x, then + Σ_n S[n]·C[n]
                var headState = s.Ssm.AsSpan((b * heads + h) * stateSize * headDim, stateSize * headDim);
                for (int n = 0; n < stateSize; n++) // S[n] = decay·S[n] + B[n]·(Δ·x); y += C[n]·S[n]
                    Simd.DecayAddAndRead(ref headState[n * headDim], decay, bIn[n], ref dx[0], cIn[n], ref yHead[0], headDim);
            }
            GatedNorm(output, projected[..inner]);
        }
        outProj.Multiply(s.Y, y, batch, context.Pool);
    }

    /// <summary>RMSNorm per group of inner / groups channels (epsilon <see cref="Mamba2.NormEps"/>), gated by SiLU(z)
    /// before the norm or, with norm_before_gate, after it. Overwrites z with SiLU(z).</summary>
    void GatedNorm(Span<float> y, Span<float> z)
    {
        Silu(z, z);
        if (!normBeforeGate) TensorPrimitives.Multiply(y, z, y);
        int size = inner / groups;
        for (int g = 0; g < groups; g++)
        {
            var part = y.Slice(g * size, size);
            float scale = 1 / MathF.Sqrt(TensorPrimitives.SumOfSquares(part) / size + (float)Mamba2.NormEps);
            TensorPrimitives.Multiply(part, scale, part);
        }
        TensorPrimitives.Multiply(y, normWeight, y);
        if (normBeforeGate) TensorPrimitives.Multiply(y, z, y);
    }

    static void Silu(Span<float> x, Span<float> result)
    {
        Span<float> sigmoid = x.Length <= 4096 ? stackalloc float[x.Length] : new float[x.Length];
        TensorPrimitives.Sigmoid(x, sigmoid);
        TensorPrimitives.Multiply(x, sigmoid, result);
    }

    public void ImportState(MixerState? source, LeanLayerState target)
    {
        if (source is null) return;
        var from = MixerState.Require<Mamba2State>(source, "lean Mamba-2");
        var s = (State)target;
        convolution.ImportWindow(from.Conv, s.Conv, "Mamba-2");
        using var scope = TorchSharp.torch.NewDisposeScope();
        LeanBuilder.CopyInto(from.Ssm.transpose(2, 3), s.Ssm);
    }
}
