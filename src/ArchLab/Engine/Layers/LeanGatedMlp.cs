using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using ArchLab.Engine.Matrices;
using ArchLab.Mixers;

namespace ArchLab.Engine.Layers;

/// <summary>
/// A gated feed-forward in the engine: down(act(up·x) ⊙ gate·x). LLaMA's SwiGLU (<see cref="Models.SwiGluMlp"/>: up = w1,
/// gate = w3, down = w2, act = SiLU) and torchscale's GLU (<see cref="Models.GluMlp"/>: fc1, gate, fc2; swish, gelu or relu).
/// Stateless: its state is scratch only.
/// </summary>
public sealed class LeanGatedMlp(LeanMatrix up, LeanMatrix gate, LeanMatrix down, string activation) : ILeanLayer
{
    readonly int hidden = up.Rows;
    readonly ProductGroup upAndGate = new(up, gate);

    public long WeightBytes => up.Bytes + gate.Bytes + down.Bytes;

    sealed class Scratch : LeanLayerState
    {
        public required float[] Up, Gate;
        public override long Bytes => 0;
    }

    public LeanLayerState AllocateState(int batch, int maxLength, int threads) =>
        new Scratch { Up = new float[batch * hidden], Gate = new float[batch * hidden] };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    public void Step(float[] x, float[] y, LeanLayerState state, in StepContext context)
    {
        var s = (Scratch)state;
        int batch = context.Batch;
        upAndGate.Multiply(batch, context.Pool, x, s.Up, x, s.Gate);
        var h = s.Up.AsSpan(0, batch * hidden);
        var g = s.Gate.AsSpan(0, batch * hidden);
        switch (activation)
        {
            case "swish":
                TensorPrimitives.Multiply(g, h, g); // gate·up, then ·σ(up) below
                TensorPrimitives.Sigmoid(h, h);
                break;
            case "relu":
                TensorPrimitives.Max(h, 0f, h);
                break;
            case "gelu":
                foreach (ref float v in h) v = Gelu(v);
                break;
            default:
                throw new NotSupportedException($"unknown activation '{activation}'");
        }
        TensorPrimitives.Multiply(h, g, h);
        down.Multiply(s.Up, y, batch, context.Pool);
    }

    /// <summary>GELU with the exact erf (PyTorch's default), erf by Abramowitz–Stegun 7.1.26 in double (|error| &lt; 1.5e−7).</summary>
    static float Gelu(float x) => (float)(0.5 * x * (1 + Erf(x / Math.Sqrt(2))));

    static double Erf(double x)
    {
        double t = 1 / (1 + 0.3275911 * Math.Abs(x));
        double y = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.Exp(-x * x);
        return x >= 0 ? y : -y;
    }

    public void ImportState(MixerState? source, LeanLayerState target) { }
}
