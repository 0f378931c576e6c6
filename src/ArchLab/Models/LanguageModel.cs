using ArchLab.Mixers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ArchLab.Models;

/// <summary>
/// token embedding (→ optional embedding norm, RWKV's ln0) → blocks → final norm → head (tied to the embedding or not).
/// The same class runs every architecture: only the mixer inside each <see cref="Block"/> differs. The final norm is the
/// kind the config or the main mixer asks for (RMSNorm for transformers, LayerNorm for RWKV).
/// </summary>
public sealed class LanguageModel : nn.Module<Tensor, Tensor>
{
    public readonly Embedding embed;
    public readonly nn.Module<Tensor, Tensor>? embed_norm; // only with ModelConfig.EmbeddingNorm
    public readonly Embedding? pos_embed; // only with ModelConfig.PositionEmbedding: [context_length, dim]
    public readonly ModuleList<Block> blocks;
    public readonly nn.Module<Tensor, Tensor> norm;
    public readonly Projection? head; // null when tied to the embedding

    public ModelConfig Config { get; }

    public LanguageModel(ModelConfig config) : base(nameof(LanguageModel))
    {
        Config = config.Validate();
        embed = nn.Embedding(config.VocabSize, config.Dim);
        nn.init.normal_(embed.weight!, 0.0, 0.02);
        if (config.PositionEmbedding)
        {
            pos_embed = nn.Embedding(config.ContextLength, config.Dim);
            nn.init.normal_(pos_embed.weight!, 0.0, 0.02);
        }
        if (config.EmbeddingNorm) embed_norm = Norms.Create(config.NormOf(0), config.Dim, config.NormEps);
        blocks = new ModuleList<Block>(Enumerable.Range(0, config.Layers).Select(i => new Block(config, i)).ToArray());
        norm = Norms.Create(config.Norm ?? MixerRegistry.Spec(config.Arch).DefaultNorm, config.Dim, config.NormEps);
        head = config.TiedEmbeddings ? null : new Projection(config.Dim, config.VocabSize);
        RegisterComponents();
    }

    /// <summary>Logits [batch, time, vocab] for ids [batch, time], from an empty state.</summary>
    public override Tensor forward(Tensor ids) => Forward(ids, null);

    /// <summary>
    /// Whole-sequence pass. With a <paramref name="state"/>, continues from it (prefill, chunked decoding) and leaves
    /// the state after the last token in it.
    /// </summary>
    public Tensor Forward(Tensor ids, ModelState? state)
    {
        using var scope = NewDisposeScope();
        return Head(HiddenStates(ids, state)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The final-normed hidden states [batch, time, dim]: <see cref="Forward"/> without the head (same state handling).
    /// With <see cref="Logits"/> on a subset of positions it gives the same logits there (used where only a few positions
    /// are scored and the V·d head would dominate the cost).
    /// </summary>
    public Tensor HiddenStates(Tensor ids, ModelState? state = null)
    {
        using var scope = NewDisposeScope();
        var h = Embed(ids, state?.Position ?? 0);
        for (int i = 0; i < blocks.Count; i++)
        {
            var (output, final) = blocks[i].Forward(h, state?.Layers[i], returnFinal: state is not null);
            h = output;
            if (state is not null) state.Layers[i] = final;
        }
        return norm.call(h).MoveToOuterDisposeScope();
    }

    /// <summary>The output head (tied or not) applied to final-normed hidden states [..., dim] → [..., vocab].</summary>
    public Tensor Logits(Tensor normedHidden) => Head(normedHidden);

    /// <summary>One token per sequence: ids [batch] → logits [batch, vocab]; advances <paramref name="state"/>.</summary>
    public Tensor Step(Tensor ids, ModelState state)
    {
        using var scope = NewDisposeScope();
        var h = Embed(ids, state.Position);
        for (int i = 0; i < blocks.Count; i++)
            h = blocks[i].Step(h, state.Layers[i] ?? throw new InvalidOperationException($"layer {i} has no state: allocate it first"));
        return Head(norm.call(h)).MoveToOuterDisposeScope();
    }

    /// <summary>Empty per-layer states for <paramref name="batch"/> sequences of up to <paramref name="maxLength"/> tokens.</summary>
    public ModelState AllocateState(long batch, long maxLength)
    {
        var state = new ModelState(blocks.Count);
        var dtype = embed.weight!.dtype;
        var device = embed.weight!.device;
        for (int i = 0; i < blocks.Count; i++)
            state.Layers[i] = blocks[i].AllocateState(batch, maxLength, dtype, device);
        return state;
    }

    /// <summary>Analytic state bytes after <paramref name="length"/> tokens.</summary>
    public long StateBytes(long batch, long length) =>
        blocks.Sum(b => b.StateBytes(batch, length, embed.weight!.dtype));

    /// <summary>Token embedding of ids [batch, time] or [batch] at positions from <paramref name="start"/>, plus the learned
    /// position embedding where the config has one (then a position past the context length is an error).</summary>
    Tensor Embed(Tensor ids, long start)
    {
        var h = embed.call(ids);
        if (pos_embed is not null)
        {
            long length = ids.dim() == 2 ? ids.shape[1] : 1;
            if (start + length > Config.ContextLength)
                throw new ArgumentException($"position {start + length - 1} is past the learned position embeddings (context_length {Config.ContextLength})");
            var positions = pos_embed.call(arange(start, start + length, dtype: ScalarType.Int64, device: ids.device));
            h = ids.dim() == 2 ? h + positions : h + positions[0];
        }
        return embed_norm is null ? h : embed_norm.call(h);
    }

    Tensor Head(Tensor h) => head is null ? Runtime.Autocast.Linear(h, embed.weight!) : head.call(h);

    /// <summary>
    /// The parameters weight decay applies to, and the rest (in <c>named_parameters</c> order): matrices (embeddings,
    /// projections) decay; norm gains and biases do not (as nanoGPT), nor the parameters each layer's
    /// <see cref="MixerSpec.NoDecayParameters"/> names (Mamba's A_log, as the official code).
    /// </summary>
    public (List<Parameter> Decay, List<Parameter> NoDecay) WeightDecayGroups()
    {
        var exempt = Enumerable.Range(0, Config.Layers)
            .SelectMany(i => MixerRegistry.Spec(Config.MixerOf(i)).NoDecayParameters.Select(name => $"blocks.{i}.mixer.{name}"))
            .ToHashSet();
        var all = named_parameters().ToList();
        bool Decays((string name, Parameter parameter) p) => p.parameter.dim() >= 2 && !exempt.Contains(p.name);
        return (all.Where(Decays).Select(p => p.parameter).ToList(), all.Where(p => !Decays(p)).Select(p => p.parameter).ToList());
    }

    // ---- accounting -------------------------------------------------------------------------------------------

    /// <summary>Parameters of the input embedding tables (tokens, and learned positions where the config has them).</summary>
    public long EmbeddingParameters => embed.weight!.NumberOfElements + (pos_embed?.weight!.NumberOfElements ?? 0);

    /// <summary>Parameters of an untied output head (0 when tied).</summary>
    public long HeadParameters => head?.weight.NumberOfElements ?? 0;

    /// <summary>All parameters except the embedding table and the head (Kaplan's N).</summary>
    public long NonEmbeddingParameters => TotalParameters - EmbeddingParameters - HeadParameters;

    public long TotalParameters => parameters().Sum(p => p.NumberOfElements);

    /// <summary>
    /// Training FLOPs per token: 3 × forward (backward ≈ 2 × forward). Forward = 2 per weight of every matmul a token
    /// goes through (the non-embedding weights and the head, V·d, whether tied or not; the embedding lookup is free)
    /// plus each mixer's non-parameter work (attention scores over a causal window of <paramref name="contextLength"/>).
    /// </summary>
    public long TrainingFlopsPerToken(long contextLength)
    {
        long forward = 2 * (NonEmbeddingParameters + (long)Config.VocabSize * Config.Dim)
                       + blocks.Sum(b => b.NonParameterFlopsPerToken(contextLength));
        return 3 * forward;
    }
}
