using ArchLab.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Models;

/// <summary>Pre-norm residual block: x + mixer(norm(x)), then + mlp(norm(x)).</summary>
public sealed class Block : nn.Module<Tensor, Tensor>
{
    public readonly RmsNorm mixer_norm, mlp_norm;
    public readonly nn.Module<Tensor, Tensor> mixer;
    public readonly SwiGluMlp mlp;

    public Block(ModelConfig config, int layer) : base(nameof(Block))
    {
        double outputStd = 0.02 / Math.Sqrt(2.0 * config.Layers); // GPT-2's scaled init of residual projections
        mixer_norm = new RmsNorm(config.Dim, config.NormEps);
        mixer = (nn.Module<Tensor, Tensor>)MixerRegistry.Create(config.MixerOf(layer), config, outputStd);
        mlp_norm = new RmsNorm(config.Dim, config.NormEps);
        mlp = new SwiGluMlp(config.Dim, config.FfnHiddenSize, outputStd);
        RegisterComponents();
    }

    public IMixer Mixer => (IMixer)mixer;

    public override Tensor forward(Tensor x) => Forward(x, null, false).Output;

    public (Tensor Output, MixerState? Final) Forward(Tensor x, MixerState? initial, bool returnFinal)
    {
        using var scope = NewDisposeScope();
        var (mixed, final) = Mixer.Forward(mixer_norm.call(x), initial, returnFinal);
        var h = x + mixed;
        var output = h + mlp.call(mlp_norm.call(h));
        return (output.MoveToOuterDisposeScope(), final);
    }

    /// <summary>One token: x [batch, dim].</summary>
    public Tensor Step(Tensor x, MixerState state)
    {
        using var scope = NewDisposeScope();
        var h = x + Mixer.Step(mixer_norm.call(x), state);
        return (h + mlp.call(mlp_norm.call(h))).MoveToOuterDisposeScope();
    }
}
