using ArchLab.Mixers;
using static TorchSharp.torch;

namespace ArchLab.Models;

/// <summary>The state of a block whose MLP also reads earlier tokens (RWKV's channel mixing): the mixer's and the MLP's.</summary>
public sealed class BlockState : MixerState
{
    public MixerState Mixer { get; private set; }
    public MixerState Mlp { get; private set; }

    public BlockState(MixerState mixer, MixerState mlp)
    {
        Mixer = mixer;
        Mlp = mlp;
        Position = mixer.Position;
    }

    protected override IEnumerable<Tensor> Tensors => TensorsOf(Mixer).Concat(TensorsOf(Mlp));

    public override IReadOnlyList<Tensor> Values => [.. Mixer.Values, .. Mlp.Values];

    /// <summary>Records the parts' states after a call (they may have been replaced rather than updated in place).</summary>
    internal void Update(MixerState mixer, MixerState mlp)
    {
        if (!ReferenceEquals(mixer, Mixer)) Mixer.Dispose();
        if (!ReferenceEquals(mlp, Mlp)) Mlp.Dispose();
        Mixer = mixer;
        Mlp = mlp;
        Position = mixer.Position;
    }

    public override bool CanFillArbitrary => Mixer.CanFillArbitrary && Mlp.CanFillArbitrary;

    public override void FillArbitrary(long length, Random random)
    {
        if (!CanFillArbitrary) base.FillArbitrary(length, random); // throws, naming this type
        Mixer.FillArbitrary(length, random);
        Mlp.FillArbitrary(length, random);
        Position = length;
    }

    public override void Dispose()
    {
        Mixer.Dispose();
        Mlp.Dispose();
        GC.SuppressFinalize(this);
    }
}
