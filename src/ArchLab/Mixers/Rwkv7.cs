using System.Runtime.CompilerServices;
using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>What RWKV-7's time and channel mixing share: the official initial values (BlinkDL RWKV-LM
/// <c>RWKV-v7/train_temp/src/model.py</c>, RWKV_Tmix_x070 / RWKV_CMix_x070 and RWKV.generate_init_weight) and the
/// value-residual link between the layers of one model.</summary>
public static class Rwkv7
{
    public static string Name => Rwkv7TimeMix.Spec.Name;

    /// <summary>The official LoRA width suggestion: max(32, round(factor·√dim / 32)·32) (Python's round: half to even).
    /// Factors: 2.5 for the decay and the in-context learning rate, 1.7 for the value residual, 5 for the gate.</summary>
    public static int SuggestedLora(int dim, double factor) =>
        Math.Max(32, (int)(Math.Round(factor * Math.Sqrt(dim) / 32, MidpointRounding.ToEven) * 32));

    /// <summary>Whether <paramref name="layer"/> is the first RWKV-7 layer of the model (the one whose value the later ones mix in).</summary>
    public static bool IsFirstLayer(ModelConfig config, int layer) =>
        Enumerable.Range(0, layer).All(i => MixerRegistry.Canonical(config.MixerOf(i)) != Name);

    /// <summary>The official depth ratios: l/(L−1) (0 for a one-layer model, where the official code divides by zero) and 1 − l/L.</summary>
    public static (double ZeroToOne, double OneToAlmostZero) Ratios(int layer, int layers) =>
        (layers > 1 ? layer / (double)(layers - 1) : 0.0, 1.0 - layer / (double)layers);

    /// <summary>Token-shift mix 1 − (i/dim)^power per channel i (x_r, x_w, … and the channel mix's x_k).</summary>
    public static Tensor ShiftMix(int dim, double power)
    {
        using var scope = NewDisposeScope();
        var ratio = arange(dim, dtype: ScalarType.Float64) / dim;
        return (1 - ratio.pow(power)).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>The official per-channel curves of the time mixing: linear n/(dim−1) − ½, the per-head zigzag z·|z| with
    /// z = ((n mod N) − (N−1)/2)/((N−1)/2), and the decay base −6 + 6·(n/(dim−1))^(1 + ratio^0.3).</summary>
    public static (Tensor Linear, Tensor Zigzag, Tensor DecayBase) Curves(int dim, int headSize, double zeroToOne)
    {
        using var scope = NewDisposeScope();
        var n = arange(dim, dtype: ScalarType.Float64);
        double last = Math.Max(dim - 1, 1), half = Math.Max((headSize - 1) / 2.0, 0.5);
        var linear = n / last - 0.5;
        var z = (n.remainder(headSize) - (headSize - 1) / 2.0) / half;
        var zigzag = z * z.abs();
        var decay = -6 + 6 * (n / last).pow(1 + Math.Pow(zeroToOne, 0.3));
        return (F32(linear), F32(zigzag), F32(decay));
    }

    static Tensor F32(Tensor t) => t.to(ScalarType.Float32).MoveToOuterDisposeScope();

    /// <summary>Orthogonal init with the official ortho_init gain: scale·√(rows/cols) when rows &gt; cols, else scale.</summary>
    public static void OrthoInit(Tensor weight, double scale)
    {
        using var noGrad = no_grad();
        long rows = weight.shape[0], cols = weight.shape[1];
        nn.init.orthogonal_(weight, (rows > cols ? Math.Sqrt(rows / (double)cols) : 1.0) * scale);
    }
}

/// <summary>
/// RWKV-7's value residual across layers: the first RWKV-7 layer's value v (per token) is mixed into every later layer's
/// value, v ← v + (v_first − v)·σ(v0 + LoRA(x_v)). The layers of one model share one link (one per <see cref="ModelConfig"/>
/// object, which <see cref="LanguageModel"/> hands to all its blocks); the first layer sets it on every call, the later
/// ones read it in the same pass. The value is kept per thread, so models sharing a config object may run on
/// different threads. It is part of the autograd graph: gradients flow from later layers into the first layer's value.
/// </summary>
public sealed class Rwkv7ValueResidual
{
    static readonly ConditionalWeakTable<ModelConfig, Rwkv7ValueResidual> links = new();
    readonly ThreadLocal<Tensor?> current = new();

    /// <summary>The link shared by all layers built from this config object.</summary>
    public static Rwkv7ValueResidual For(ModelConfig config) => links.GetValue(config, _ => new Rwkv7ValueResidual());

    /// <summary>Stores the first layer's value (kept outside dispose scopes until the next call replaces it).</summary>
    public void Set(Tensor v)
    {
        current.Value?.Dispose();
        current.Value = v.alias().DetachFromDisposeScope();
    }

    /// <summary>The first layer's value for a later layer's value <paramref name="v"/> of the same shape.</summary>
    public Tensor Get(Tensor v, int layer)
    {
        var first = current.Value ?? throw new InvalidOperationException(
            $"RWKV-7 layer {layer} needs the first RWKV-7 layer's value (value residual): run the model's layers in order");
        if (!first.shape.SequenceEqual(v.shape))
            throw new InvalidOperationException(
                $"RWKV-7 layer {layer}: the first layer's value has shape [{string.Join(", ", first.shape)}], this layer's [{string.Join(", ", v.shape)}]: run the model's layers in order on the same input");
        return first;
    }
}
