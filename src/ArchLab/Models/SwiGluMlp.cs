using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Models;

/// <summary>LLaMA's feed-forward: w2(silu(w1·x) ⊙ w3·x).</summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>, Engine.ILeanConvertible
{
    public readonly Projection w1, w2, w3;

    public SwiGluMlp(int dim, int hidden, double outputInitStd) : base(nameof(SwiGluMlp))
    {
        // Under bf16 autocast the hidden layer stays bf16 from w1 and w3 into w2, as PyTorch's autocast runs it.
        w1 = new Projection(dim, hidden) { KeepsBf16Output = true };
        w2 = new Projection(hidden, dim, initStd: outputInitStd);
        w3 = new Projection(dim, hidden) { KeepsBf16Output = true };
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return w2.call(nn.functional.silu(w1.call(x)) * w3.call(x)).MoveToOuterDisposeScope();
    }

    public Engine.ILeanLayer ToLean(Engine.LeanBuilder b) => new Engine.Layers.LeanGatedMlp(b.Matrix(w1), b.Matrix(w3), b.Matrix(w2), "swish");

    /// <summary>Forward multiply-adds ×2 per token.</summary>
    public static long FlopsPerToken(int dim, int hidden) => 2L * 3 * dim * hidden;
}
