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
    /// <summary>A [inner, stateSize] transposed to [stateSize, inner], the layout of the engine's SSM state.</summary>
    readonly float[] aT = Transpose(a, d.Length, a.Length / d.Length);
    /// <summary>The causal conv over x; its window is kept [batch, kernel − 1, inner].</summary>
    readonly LeanCausalConvolution convolution = new(convWeight, convBias, kernel);

    public long WeightBytes => inProj.Bytes + xProj.Bytes + dtProj.Bytes + outProj.Bytes + convolution.WeightBytes;

    sealed class State : LeanLayerState
    {
        /// <summary>The conv window [batch, kernel − 1, inner] and the SSM state [batch, stateSize, inner] (TorchSharp
        /// keeps it [batch, inner, stateSize]; here a vector holds one state index of neighbouring channels).</summary>
        public required float[] Conv, Ssm;
        public required float[] Xz, X, Dbc, Dt, Delta, Dx, Y;         // scratch
        public override long Bytes => 4L * (Conv.Length + Ssm.Length);
    }

    public LeanLayerState AllocateState(int batch, int maxLength, int threads) => new State
    {
        Conv = new float[convolution.WindowLength(batch)], Ssm = new float[batch * inner * stateSize],
        Xz = new float[batch * 2 * inner], X = new float[batch * inner], Dbc = new float[batch * xProj.Rows],
        Dt = new float[batch * dtRank], Delta = new float[batch * inner], Dx = new float[batch * inner],
        Y = new float[batch * inner],
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    public void Step(float[] x, float[] y, LeanLayerState state, in StepContext context)
    {
        var s = (State)state;
        int batch = context.Batch, window = kernel - 1;
        inProj.Multiply(x, s.Xz, batch, context.Pool);
        for (int b = 0; b < batch; b++)
        {
            convolution.Step(s.Xz.AsSpan(b * 2 * inner, inner), s.X.AsSpan(b * inner, inner), s.Conv.AsSpan(b * window * inner, window * inner));
        }
        var xs = s.X.AsSpan(0, batch * inner);
        Silu(xs, s.Y);
        s.Y.AsSpan(0, xs.Length).CopyTo(xs);
        xProj.Multiply(s.X, s.Dbc, batch, context.Pool);
        int rowWidth = xProj.Rows;
        for (int b = 0; b < batch; b++) s.Dbc.AsSpan(b * rowWidth, dtRank).CopyTo(s.Dt.AsSpan(b * dtRank));
        dtProj.Multiply(s.Dt, s.Delta, batch, context.Pool);
        Simd.Softplus(s.Delta.AsSpan(0, batch * inner));
        TensorPrimitives.Multiply(s.Delta.AsSpan(0, batch * inner), xs, s.Dx);
        for (int b = 0; b < batch; b++)
        {
            var dbc = s.Dbc.AsSpan(b * rowWidth + dtRank, 2 * stateSize);
            var output = s.Y.AsSpan(b * inner, inner);
            Simd.ScanChannels(s.Ssm.AsSpan(b * stateSize * inner, stateSize * inner), aT, s.Delta.AsSpan(b * inner, inner),
                              s.Dx.AsSpan(b * inner, inner), dbc[..stateSize], dbc[stateSize..], output);
            TensorPrimitives.MultiplyAdd(s.X.AsSpan(b * inner, inner), d, output, output); // + D·x
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
        convolution.ImportWindow(from.Conv, s.Conv, "Mamba");
        using var scope = TorchSharp.torch.NewDisposeScope();
        LeanBuilder.CopyInto(from.Ssm.transpose(1, 2), s.Ssm);
    }

    static float[] Transpose(float[] values, int rows, int cols)
    {
        var result = new float[values.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) result[c * rows + r] = values[r * cols + c];
        return result;
    }
}
