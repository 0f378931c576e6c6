using ArchLab.Engine;
using ArchLab.Engine.Layers;
using ArchLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// LLaMA-style causal self-attention: rotary positions, grouped-query heads (kvHeads ≤ heads), libtorch's fused
/// scaled-dot-product attention over the whole sequence, and a <see cref="KvCache"/> for prefill and step. Options for
/// other official attentions (mamba_ssm's MHA in its hybrids): a head width apart from dim/heads
/// (<see cref="ModelConfig.AttentionHeadDim"/>), biases on q, k, v and on the output, partial rotary in the NeoX layout.
/// </summary>
public sealed class Attention : Mixer, ILeanConvertible
{
    public readonly Projection wq, wk, wv, wo;
    readonly int heads, kvHeads, headDim;
    readonly RotaryEmbedding? rope; // null with ModelConfig.NoRope

    /// <summary>LLaMA's blocks: RMSNorm and SwiGLU; imports Hugging Face LLaMA checkpoints.</summary>
    public static readonly MixerSpec Spec = new("transformer", (config, _, outputStd) => new Attention(config, outputStd))
    {
        Aliases = ["attention", "llama"],
        DefaultNorm = "rmsnorm",
        DefaultMlp = "swiglu",
        Importer = new Checkpoints.Importers.LlamaImporter(),
        ValidateConfig = config => config.Attention.Validate(),
        ParameterCount = ParameterCount,
        StateElements = config => 2.0 * config.ContextLength * config.Attention.KvHeadCount * config.Attention.HeadDim,
    };

    /// <summary>wq, wk, wv, wo and their biases if any.</summary>
    static double ParameterCount(ModelConfig config, int layer)
    {
        var a = config.Attention;
        double dim = config.Dim, headDim = a.HeadDim;
        double q = config.Heads * headDim, kv = (double)a.KvHeadCount * headDim;
        return dim * q + 2 * dim * kv + q * dim + (a.QkvBias == true ? q + 2 * kv : 0) + (a.OutBias == true ? dim : 0);
    }

    public Attention(ModelConfig config, double outputInitStd) : base(nameof(Attention))
    {
        heads = config.Heads;
        var a = config.Attention;
        kvHeads = a.KvHeadCount;
        headDim = a.HeadDim;
        bool qkvBias = a.QkvBias ?? false;
        wq = new Projection(config.Dim, heads * headDim, hasBias: qkvBias);
        wk = new Projection(config.Dim, kvHeads * headDim, hasBias: qkvBias);
        wv = new Projection(config.Dim, kvHeads * headDim, hasBias: qkvBias);
        wo = new Projection(heads * headDim, config.Dim, hasBias: a.OutBias ?? false, initStd: outputInitStd);
        rope = config.NoRope ? null : new RotaryEmbedding(headDim, config.RopeTheta, a.RotaryDim, halves: a.RopeStyle == "neox");
        RegisterComponents();
    }

    public override (Tensor Output, MixerState? Final) Forward(Tensor x, MixerState? initial = null, bool returnFinal = false)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], time = x.shape[1];
        long start = initial?.Position ?? 0;

        var q = Rotate(wq.call(x).view(batch, time, heads, headDim), start).transpose(1, 2);
        var k = Rotate(wk.call(x).view(batch, time, kvHeads, headDim), start).transpose(1, 2);
        var v = wv.call(x).view(batch, time, kvHeads, headDim).transpose(1, 2);

        KvCache? cache = null;
        if (initial is not null || returnFinal)
        {
            cache = MixerState.As<KvCache>(initial, "attention") ?? new KvCache(batch, kvHeads, time, headDim, x.dtype, x.device);
            (k, v) = cache.Append(k, v);
        }

        // One new token sees every cached key: no mask to build (a decode step stays a handful of ops).
        var y = start == 0
            ? Runtime.Autocast.CausalAttention(q, RepeatKv(k), RepeatKv(v))
            : time == 1
                ? nn.functional.scaled_dot_product_attention(q, RepeatKv(k), RepeatKv(v))
                : nn.functional.scaled_dot_product_attention(q, RepeatKv(k), RepeatKv(v), attn_mask: ChunkMask(start, time, x.device));
        var output = wo.call(y.transpose(1, 2).reshape(batch, time, heads * headDim));
        return (output.MoveToOuterDisposeScope(), returnFinal ? cache : null);
    }

    public override Tensor Step(Tensor x, MixerState state)
    {
        using var scope = NewDisposeScope();
        var (output, _) = Forward(x.unsqueeze(1), state, returnFinal: true);
        return output.squeeze(1).MoveToOuterDisposeScope();
    }

    public override MixerState AllocateState(long batch, long maxLength, ScalarType dtype, Device device) =>
        new KvCache(batch, kvHeads, maxLength, headDim, dtype, device);

    public override long StateBytes(long batch, long length, ScalarType dtype) =>
        2 * batch * kvHeads * length * headDim * ElementSize(dtype);

    /// <summary>q·kᵀ and softmax·v: 2·2·heads·headDim multiply-adds per visible key; causal average (T+1)/2 keys.</summary>
    public override long NonParameterFlopsPerToken(long contextLength) => 2L * heads * headDim * (contextLength + 1);

    public ILeanLayer ToLean(LeanBuilder b) => new LeanAttention(b.Matrix(wq), b.Matrix(wk), b.Matrix(wv), b.Matrix(wo), heads, kvHeads, headDim, rope);

    Tensor Rotate(Tensor x, long start) => rope is null ? x : rope.Apply(x, start);

    /// <summary>Query i of a chunk starting at <paramref name="start"/> sees keys 0 … start+i (true = attend).</summary>
    static Tensor ChunkMask(long start, long time, Device device) =>
        (arange(time, device: device).unsqueeze(1) + start).ge(arange(start + time, device: device).unsqueeze(0));

    /// <summary>Shares each key/value head among heads/kvHeads query heads, as LLaMA's repeat_kv does.</summary>
    Tensor RepeatKv(Tensor kv) => kvHeads == heads ? kv : kv.repeat_interleave(heads / kvHeads, dim: 1);
}
