using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using ArchLab.Engine.Matrices;
using ArchLab.Mixers;

namespace ArchLab.Engine.Layers;

/// <summary>The shapes and switches of a <see cref="LeanGatedDeltaNet"/>: H query/key heads of size K, HV value heads of
/// size V, the short-conv width, the output norm's eps, β's range and whether the output is gated.</summary>
public sealed record LeanGatedDeltaNetShape(int Heads, int ValueHeads, int KeyDim, int ValueDim, int Kernel, float Eps,
                                            bool NegativeEigenvalues, bool OutputGate);

/// <summary>
/// <see cref="GatedDeltaNet"/>'s step in the engine (fla's fused_recurrent path for one token): q, k, v projections through
/// their short causal convs (the window is the state) and SiLU; q, k L2-normalised per head (x / √(Σx² + 1e−6)), q scaled
/// by K^−½; per value head g = −exp(A_log)·softplus(a + dt_bias), β = sigmoid(b) (×2), then
/// S ← exp(g)·S; u = β(v − Sᵀk); S ← S + k uᵀ; o = Sᵀq; RMSNorm of o per value head, times SiLU(g_proj x) when gated;
/// o_proj. Value head i reads query/key head i / (HV/H).
/// </summary>
public sealed class LeanGatedDeltaNet(LeanMatrix qProj, LeanMatrix kProj, LeanMatrix vProj, LeanMatrix aProj, LeanMatrix bProj,
                                      LeanMatrix? gProj, LeanMatrix oProj, float[]? convWeight, float[] negA, float[] dtBias,
                                      float[] normWeight, LeanGatedDeltaNetShape shape) : ILeanLayer
{
    readonly int heads = shape.Heads, valueHeads = shape.ValueHeads, keyDim = shape.KeyDim, valueDim = shape.ValueDim, kernel = shape.Kernel;
    int QkWidth => heads * keyDim;
    int VWidth => valueHeads * valueDim;
    int Channels => 2 * QkWidth + VWidth;
    /// <summary>The short causal conv over q, k and v (none without short convs); its window is kept
    /// [batch, kernel − 1, channels].</summary>
    readonly LeanCausalConvolution? convolution = convWeight is null ? null : new(convWeight, null, shape.Kernel);

    public long WeightBytes => qProj.Bytes + kProj.Bytes + vProj.Bytes + aProj.Bytes + bProj.Bytes + (gProj?.Bytes ?? 0) + oProj.Bytes
                               + (convolution?.WeightBytes ?? 0);

    sealed class State : LeanLayerState
    {
        public required float[] Conv, S;                              // [batch, kernel−1, channels], [batch, HV, K, V]
        public required float[] Qkv, Mixed, Projected, A, B, G, O, Recalled;     // scratch
        public override long Bytes => 4L * (Conv.Length + S.Length);
    }

    public LeanLayerState AllocateState(int batch, int maxLength, int threads) => new State
    {
        Conv = new float[convolution?.WindowLength(batch) ?? 0], S = new float[batch * valueHeads * keyDim * valueDim],
        Qkv = new float[batch * Channels], Mixed = new float[batch * Channels], Projected = new float[batch * Math.Max(QkWidth, VWidth)], A = new float[batch * valueHeads],
        B = new float[batch * valueHeads], G = new float[batch * VWidth], O = new float[batch * VWidth], Recalled = new float[valueDim],
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    public void Step(float[] x, float[] y, LeanLayerState state, in StepContext context)
    {
        var s = (State)state;
        int batch = context.Batch, channels = Channels;
        // Projections into [batch, channels] rows laid out [q | k | v], as the module concatenates them.
        Project(qProj, x, s, batch, 0, QkWidth, context);
        Project(kProj, x, s, batch, QkWidth, QkWidth, context);
        Project(vProj, x, s, batch, 2 * QkWidth, VWidth, context);
        aProj.Multiply(x, s.A, batch, context.Pool);
        bProj.Multiply(x, s.B, batch, context.Pool);
        gProj?.Multiply(x, s.G, batch, context.Pool);

        var mixed = s.Mixed.AsSpan(0, batch * channels);
        if (convolution is null) s.Qkv.AsSpan(0, mixed.Length).CopyTo(mixed);
        else
        {
            int window = kernel - 1;
            for (int b = 0; b < batch; b++)
                convolution.Step(s.Qkv.AsSpan(b * channels, channels), mixed.Slice(b * channels, channels),
                                 s.Conv.AsSpan(b * window * channels, window * channels));
        }
        Silu(mixed, s.Qkv);                                            // Qkv now holds SiLU(conv) [batch, channels]
        float scale = 1 / MathF.Sqrt(keyDim);
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < 2 * heads; h++)                        // q heads, then k heads
            {
                var head = s.Qkv.AsSpan(b * channels + h * keyDim, keyDim);
                float norm = 1 / MathF.Sqrt(TensorPrimitives.Dot(head, head) + 1e-6f);
                TensorPrimitives.Multiply(head, h < heads ? norm * scale : norm, head);
            }

        var a = s.A.AsSpan(0, batch * valueHeads);
        for (int i = 0; i < a.Length; i++) a[i] += dtBias[i % valueHeads];
        Simd.Softplus(a);
        TensorPrimitives.Sigmoid(s.B.AsSpan(0, a.Length), s.B);
        int group = valueHeads / heads;
        for (int b = 0; b < batch; b++)
            for (int hv = 0; hv < valueHeads; hv++)
            {
                int i = b * valueHeads + hv, h = hv / group;
                float decay = MathF.Exp(negA[hv] * s.A[i]), beta = shape.NegativeEigenvalues ? 2 * s.B[i] : s.B[i];
                var q = s.Qkv.AsSpan(b * channels + h * keyDim, keyDim);
                var k = s.Qkv.AsSpan(b * channels + QkWidth + h * keyDim, keyDim);
                var v = s.Qkv.AsSpan(b * channels + 2 * QkWidth + hv * valueDim, valueDim);
                var o = s.O.AsSpan(b * VWidth + hv * valueDim, valueDim);
                var st = s.S.AsSpan(i * keyDim * valueDim, keyDim * valueDim);
                var recalled = s.Recalled.AsSpan();
                TensorPrimitives.Multiply(st, decay, st);
                recalled.Clear();
                for (int r = 0; r < keyDim; r++) TensorPrimitives.MultiplyAdd(st.Slice(r * valueDim, valueDim), k[r], recalled, recalled);
                TensorPrimitives.Subtract(v, recalled, recalled);
                TensorPrimitives.Multiply(recalled, beta, recalled);      // u
                o.Clear();
                for (int r = 0; r < keyDim; r++)
                {
                    var row = st.Slice(r * valueDim, valueDim);
                    TensorPrimitives.MultiplyAdd(recalled, k[r], row, row);
                    TensorPrimitives.MultiplyAdd(row, q[r], o, o);
                }
                float rms = 1 / MathF.Sqrt(TensorPrimitives.SumOfSquares(o) / valueDim + shape.Eps);
                TensorPrimitives.Multiply(o, rms, o);
                TensorPrimitives.Multiply(o, normWeight, o);
            }
        if (gProj is not null)
        {
            var g = s.G.AsSpan(0, batch * VWidth);
            Silu(g, s.Mixed);                                          // Mixed is free again: SiLU(g)
            TensorPrimitives.Multiply(s.O.AsSpan(0, g.Length), s.Mixed.AsSpan(0, g.Length), s.O);
        }
        oProj.Multiply(s.O, y, batch, context.Pool);
    }

    /// <summary>One projection into its columns of the [batch, channels] rows.</summary>
    void Project(LeanMatrix projection, float[] x, State s, int batch, int offset, int width, in StepContext context)
    {
        projection.Multiply(x, s.Projected, batch, context.Pool);
        for (int b = 0; b < batch; b++) s.Projected.AsSpan(b * width, width).CopyTo(s.Qkv.AsSpan(b * Channels + offset, width));
    }

    static void Silu(ReadOnlySpan<float> x, Span<float> result)
    {
        TensorPrimitives.Sigmoid(x, result);
        TensorPrimitives.Multiply(x, result[..x.Length], result);
    }

    public void ImportState(MixerState? source, LeanLayerState target)
    {
        if (source is null) return;
        var from = MixerState.Require<GatedDeltaNetState>(source, "lean Gated DeltaNet");
        var s = (State)target;
        if (from.Conv is not null)
        {
            if (convolution is not null) convolution.ImportWindow(from.Conv, s.Conv, "Gated DeltaNet");
            else if (from.Conv.NumberOfElements != 0)
                throw new ArgumentException($"Gated DeltaNet conv state has {from.Conv.NumberOfElements} values, the lean state 0");
        }
        LeanBuilder.CopyInto(from.Recurrent, s.S);
    }
}
