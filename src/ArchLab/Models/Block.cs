using ArchLab.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Models;

/// <summary>
/// Pre-norm residual block: x + mixer(norm(x)), then + mlp(norm(x)) unless the layer has no MLP (Mamba).
/// Norm and MLP kinds come from the config, or from the mixer's defaults (<see cref="MixerRegistry"/>).
/// An MLP that reads earlier tokens (it is a <see cref="Mixers.Mixer"/>, like RWKV's channel mixing) gets its own state:
/// the block's state is then a <see cref="BlockState"/> holding both; otherwise it is the mixer's state itself.
/// </summary>
public sealed class Block : nn.Module<Tensor, Tensor>
{
    public readonly nn.Module<Tensor, Tensor> mixer_norm;
    public readonly Mixer mixer;
    public readonly nn.Module<Tensor, Tensor>? mlp_norm, mlp;

    public Block(ModelConfig config, int layer) : base(nameof(Block))
    {
        double outputStd = 0.02 / Math.Sqrt(2.0 * config.Layers); // GPT-2's scaled init of residual projections
        string mixerName = config.MixerOf(layer);
        string norm = config.NormOf(layer);
        mixer_norm = Norms.Create(norm, config.Dim, config.NormEps);
        mixer = MixerRegistry.Create(mixerName, config, outputStd, layer);
        mlp = Mlps.Create(config.MlpOf(layer), config, outputStd, layer);
        if (mlp is not null) mlp_norm = Norms.Create(norm, config.Dim, config.NormEps);
        RegisterComponents();
    }

    public Mixer Mixer => mixer;

    /// <summary>The MLP when it is stateful, else null.</summary>
    Mixer? StatefulMlp => mlp as Mixer;

    public override Tensor forward(Tensor x) => Forward(x, null, false).Output;

    public (Tensor Output, MixerState? Final) Forward(Tensor x, MixerState? initial, bool returnFinal)
    {
        using var scope = NewDisposeScope();
        var composite = initial as BlockState;
        var (mixed, final) = Mixer.Forward(mixer_norm.call(x), composite?.Mixer ?? initial, returnFinal);
        var h = x + mixed;
        if (StatefulMlp is { } statefulMlp)
        {
            var (fed, mlpFinal) = statefulMlp.Forward(mlp_norm!.call(h), composite?.Mlp, returnFinal);
            if (returnFinal) final = Combine(composite, final!, mlpFinal!);
            return ((h + fed).MoveToOuterDisposeScope(), final);
        }
        var output = mlp is null ? h : h + mlp.call(mlp_norm!.call(h));
        return (output.MoveToOuterDisposeScope(), final);
    }

    /// <summary>One token: x [batch, dim].</summary>
    public Tensor Step(Tensor x, MixerState state)
    {
        using var scope = NewDisposeScope();
        if (StatefulMlp is { } statefulMlp)
        {
            var composite = MixerState.Require<BlockState>(state, "a block with a stateful MLP");
            var hs = x + Mixer.Step(mixer_norm.call(x), composite.Mixer);
            var output = hs + statefulMlp.Step(mlp_norm!.call(hs), composite.Mlp);
            composite.Update(composite.Mixer, composite.Mlp);
            return output.MoveToOuterDisposeScope();
        }
        var h = x + Mixer.Step(mixer_norm.call(x), state);
        return (mlp is null ? h : h + mlp.call(mlp_norm!.call(h))).MoveToOuterDisposeScope();
    }

    /// <summary>An empty state for this block: the mixer's, or a <see cref="BlockState"/> when the MLP is stateful too.</summary>
    public MixerState AllocateState(long batch, long maxLength, ScalarType dtype, Device device)
    {
        var state = Mixer.AllocateState(batch, maxLength, dtype, device);
        return StatefulMlp is { } statefulMlp ? new BlockState(state, statefulMlp.AllocateState(batch, maxLength, dtype, device)) : state;
    }

    public long StateBytes(long batch, long length, ScalarType dtype) =>
        Mixer.StateBytes(batch, length, dtype) + (StatefulMlp?.StateBytes(batch, length, dtype) ?? 0);

    /// <summary>The mixer's non-parameter FLOPs per token, plus a stateful MLP's (token shift, gates).</summary>
    public long NonParameterFlopsPerToken(long contextLength) =>
        Mixer.NonParameterFlopsPerToken(contextLength) + (StatefulMlp?.NonParameterFlopsPerToken(contextLength) ?? 0);

    static BlockState Combine(BlockState? existing, MixerState mixer, MixerState mlp)
    {
        if (existing is null) return new BlockState(mixer, mlp);
        existing.Update(mixer, mlp);
        return existing;
    }
}
