using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using ArchLab.Engine.Matrices;
using ArchLab.Mixers;

namespace ArchLab.Engine.Layers;

/// <summary>
/// <see cref="Mamba"/>'s step in the engine (the official Mamba.step): [x, z] = in_proj(u); the causal depthwise conv
/// over the last d_conv inputs (its window is the state) and SiLU; [δ, B, C] = x_proj(x); Δ = softplus(dt_proj(δ));
/// per channel e and state n, h = exp(Δ_e·A_en)·h + (Δ_e·x_e)·B_n; y_e = Σ_n h_en·C_n + D_e·x_e; out_proj(y ⊙ SiLU(z)).
/// </summary>
public sealed class LeanMamba(LeanMatrix inProj, LeanMatrix xProj, LeanMatrix dtProj, LeanMatrix outProj,
                              float[] convWeight, float[]? convBias, float[] a, float[] d, int kernel) : ILeanLayer
{
    readonly int inner = d.Length, stateSize = a.Length / d.Length, dtRank = dtProj.Cols;
    /// <summary>The conv weights tap-major, [kernel, inner] (the module's are [inner, 1, kernel]), so each tap is one
    /// vector operation over all channels; the conv window is kept the same way, [batch, kernel − 1, inner].</summary>
    readonly float[] taps = TapMajor(convWeight, d.Length, kernel);

    static float[] TapMajor(float[] weight, int inner, int kernel)
    {
        var t = new float[weight.Length];
        for (int e = 0; e < inner; e++)
            for (int j = 0; j < kernel; j++) t[j * inner + e] = weight[e * kernel + j];
        return t;
    }

    public long WeightBytes => inProj.Bytes + xProj.Bytes + dtProj.Bytes + outProj.Bytes + 4L * convWeight.Length;

    sealed class State : LeanLayerState
    {
        public required float[] Conv, Ssm;                            // [batch, kernel−1, inner], [batch, inner, stateSize]
        public required float[] Xz, X, Dbc, Dt, Delta, Y;             // scratch
        public override long Bytes => 4L * (Conv.Length + Ssm.Length);
    }

    public LeanLayerState AllocateState(int batch, int maxLength, int threads) => new State
    {
        Conv = new float[batch * inner * (kernel - 1)], Ssm = new float[batch * inner * stateSize],
        Xz = new float[batch * 2 * inner], X = new float[batch * inner], Dbc = new float[batch * xProj.Rows],
        Dt = new float[batch * dtRank], Delta = new float[batch * inner], Y = new float[batch * inner],
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    public void Step(float[] x, float[] y, LeanLayerState state, in StepContext context)
    {
        var s = (State)state;
        int batch = context.Batch, window = kernel - 1;
        inProj.Multiply(x, s.Xz, batch, context.Pool);
        for (int b = 0; b < batch; b++)
        {
            var u = s.Xz.AsSpan(b * 2 * inner, inner);
            var conv = s.X.AsSpan(b * inner, inner);
            var history = s.Conv.AsSpan(b * window * inner, window * inner);
            TensorPrimitives.Multiply(u, taps.AsSpan(window * inner, inner), conv);
            for (int j = 0; j < window; j++)
                TensorPrimitives.MultiplyAdd(history.Slice(j * inner, inner), taps.AsSpan(j * inner, inner), conv, conv);
            if (convBias is not null) TensorPrimitives.Add(conv, convBias, conv);
            if (window > 0)
            {
                history[inner..].CopyTo(history);
                u.CopyTo(history[((window - 1) * inner)..]);
            }
        }
        var xs = s.X.AsSpan(0, batch * inner);
        Silu(xs, s.Y);
        s.Y.AsSpan(0, xs.Length).CopyTo(xs);
        xProj.Multiply(s.X, s.Dbc, batch, context.Pool);
        int rowWidth = xProj.Rows;
        for (int b = 0; b < batch; b++) s.Dbc.AsSpan(b * rowWidth, dtRank).CopyTo(s.Dt.AsSpan(b * dtRank));
        dtProj.Multiply(s.Dt, s.Delta, batch, context.Pool);
        Simd.Softplus(s.Delta.AsSpan(0, batch * inner));
        for (int b = 0; b < batch; b++)
        {
            int bc = b * rowWidth + dtRank;
            for (int e = 0; e < inner; e++)
            {
                int i = b * inner + e;
                float delta = s.Delta[i];
                s.Y[i] = Simd.ScanRow(ref s.Ssm[i * stateSize], ref a[e * stateSize], delta, ref s.Dbc[bc], ref s.Dbc[bc + stateSize],
                                      delta * s.X[i], stateSize) + d[e] * s.X[i];
            }
        }
        for (int b = 0; b < batch; b++)
        {
            var z = s.Xz.AsSpan(b * 2 * inner + inner, inner);
            var gate = s.X.AsSpan(b * inner, inner); // x is no longer needed: reuse it for SiLU(z)
            Silu(z, gate);
            TensorPrimitives.Multiply(s.Y.AsSpan(b * inner, inner), gate, s.Y.AsSpan(b * inner, inner));
        }
        outProj.Multiply(s.Y, y, batch, context.Pool);
    }

    static void Silu(ReadOnlySpan<float> x, Span<float> result)
    {
        TensorPrimitives.Sigmoid(x, result);
        TensorPrimitives.Multiply(x, result[..x.Length], result);
    }

    public void ImportState(MixerState? source, LeanLayerState target)
    {
        if (source is null) return;
        var from = MixerState.Require<MambaState>(source, "lean Mamba");
        var s = (State)target;
        var conv = LeanMatrix.ToFloats(from.Conv); // [batch, inner, kernel − 1] → [batch, kernel − 1, inner]
        int window = kernel - 1, batch = s.Conv.Length / Math.Max(1, window * inner);
        if (conv.Length != s.Conv.Length) throw new ArgumentException($"Mamba conv state has {conv.Length} values, the lean state {s.Conv.Length}");
        for (int b = 0; b < batch; b++)
            for (int e = 0; e < inner; e++)
                for (int j = 0; j < window; j++) s.Conv[(b * window + j) * inner + e] = conv[(b * inner + e) * window + j];
        LeanBuilder.CopyInto(from.Ssm, s.Ssm);
    }
}
