using ArchLab.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Models;

/// <summary>
/// Pre-norm residual block: x + mixer(norm(x)), then + mlp(norm(x)) unless the layer has no MLP (Mamba).
/// Norm and MLP kinds come from the config, or from the mixer's defaults (<see cref="MixerRegistry"/>).
/// </summary>
public sealed class Block : nn.Module<Tensor, Tensor>
{
    public readonly nn.Module<Tensor, Tensor> mixer_norm, mixer;
    public readonly nn.Module<Tensor, Tensor>? mlp_norm, mlp;

    public Block(ModelConfig config, int layer) : base(nameof(Block))
    {
        double outputStd = 0.02 / Math.Sqrt(2.0 * config.Layers); // GPT-2's scaled init of residual projections
        string mixerName = config.MixerOf(layer);
        string norm = config.NormOf(layer);
        mixer_norm = Norms.Create(norm, config.Dim, config.NormEps);
        mixer = (nn.Module<Tensor, Tensor>)MixerRegistry.Create(mixerName, config, outputStd);
        mlp = Mlps.Create(config.MlpOf(layer), config, outputStd);
        if (mlp is not null) mlp_norm = Norms.Create(norm, config.Dim, config.NormEps);
        RegisterComponents();
    }

    public IMixer Mixer => (IMixer)mixer;

    public override Tensor forward(Tensor x) => Forward(x, null, false).Output;

    public (Tensor Output, MixerState? Final) Forward(Tensor x, MixerState? initial, bool returnFinal)
    {
        using var scope = NewDisposeScope();
        var (mixed, final) = Mixer.Forward(mixer_norm.call(x), initial, returnFinal);
        var h = x + mixed;
        var output = mlp is null ? h : h + mlp.call(mlp_norm!.call(h));
        return (output.MoveToOuterDisposeScope(), final);
    }

    /// <summary>One token: x [batch, dim].</summary>
    public Tensor Step(Tensor x, MixerState state)
    {
        using var scope = NewDisposeScope();
        var h = x + Mixer.Step(mixer_norm.call(x), state);
        return (mlp is null ? h : h + mlp.call(mlp_norm!.call(h))).MoveToOuterDisposeScope();
    }
}
