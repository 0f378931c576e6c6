using System.Runtime.CompilerServices;
using ArchLab.Engine.Matrices;
using ArchLab.Models;
using TorchSharp;

namespace ArchLab.Engine;

/// <summary>
/// The lean decode engine: a <see cref="LanguageModel"/>'s step path (<see cref="LanguageModel.Step"/>) in plain C#
/// over float32 arrays, with matrix products on SIMD kernels (<see cref="LeanMatrix"/>) split over persistent threads
/// (<see cref="WorkerPool"/>), and nothing allocated per token. Every architecture runs through the same loop: embedding
/// (+ learned positions, + embedding norm) → blocks (norm → mixer → residual, norm → MLP → residual) → final norm → head.
/// What a mixer does lives in its <see cref="ILeanLayer"/>, made by the TorchSharp module itself
/// (<see cref="ILeanConvertible"/>), so this file never asks which architecture it runs.
/// <para>Weights are copied at build time (float32, bf16 or int8 matrices); later changes to the TorchSharp model are not
/// seen. A prompt can be prefilled by the TorchSharp model and its state handed over (<see cref="ImportState"/>), or
/// stepped through the engine.</para>
/// </summary>
public sealed class LeanModel : IDisposable
{
    sealed record LeanBlock(LeanNorm MixerNorm, ILeanLayer Mixer, LeanNorm? MlpNorm, ILeanLayer? Mlp);

    public ModelConfig Config { get; }
    public WeightFormat Format { get; }
    public WorkerPool Pool { get; }

    readonly bool ownsPool;
    readonly float[] embedding;   // [vocab, dim], always float32 (one row is read per token)
    readonly float[]? positions;  // [context, dim] learned positions, or null
    readonly LeanNorm? embeddingNorm;
    readonly LeanBlock[] blocks;
    readonly LeanNorm finalNorm;
    readonly LeanMatrix head;
    readonly int dim, vocab;

    LeanModel(LanguageModel model, WeightFormat format, WorkerPool pool, bool ownsPool)
    {
        Config = model.Config;
        Format = format;
        Pool = pool;
        this.ownsPool = ownsPool;
        dim = Config.Dim;
        vocab = Config.VocabSize;
        var builder = new LeanBuilder(format);
        embedding = LeanBuilder.Vector(model.embed.weight!);
        positions = model.pos_embed is null ? null : LeanBuilder.Vector(model.pos_embed.weight!);
        embeddingNorm = model.embed_norm is null ? null : LeanNorm.From(model.embed_norm);
        blocks = model.blocks.Select((block, i) => new LeanBlock(
            LeanNorm.From(block.mixer_norm),
            Convert(block.mixer, builder),
            block.mlp_norm is null ? null : LeanNorm.From(block.mlp_norm),
            block.mlp is null ? null : Convert(block.mlp, builder))).ToArray();
        finalNorm = LeanNorm.From(model.norm);
        head = model.head is null ? builder.Matrix(model.embed.weight!) : builder.Matrix(model.head);
    }

    /// <summary>The engine twin of <paramref name="model"/> with weights in <paramref name="format"/>, on
    /// <paramref name="threads"/> threads (its own pool), or on a shared <paramref name="pool"/>.</summary>
    public static LeanModel From(LanguageModel model, WeightFormat format = WeightFormat.Float32, int threads = 1, WorkerPool? pool = null)
    {
        if (Unsupported(model) is { } reason) throw new NotSupportedException($"{reason} (use --engine torch)");
        using var noGrad = torch.no_grad();
        return pool is null ? new LeanModel(model, format, new WorkerPool(threads), ownsPool: true)
                            : new LeanModel(model, format, pool, ownsPool: false);
    }

    /// <summary>Why <paramref name="model"/> cannot run on the engine (the first layer without a lean twin), or null when it can.</summary>
    public static string? Unsupported(LanguageModel model)
    {
        for (int i = 0; i < model.blocks.Count; i++)
            foreach (var module in new[] { model.blocks[i].mixer, model.blocks[i].mlp })
                if (module is not null and not ILeanConvertible)
                    return $"layer {i}: {module.GetType().Name} has no lean engine implementation";
        return null;
    }

    /// <summary>A layer's twin; <see cref="From"/> has refused models with a layer that has none.</summary>
    static ILeanLayer Convert(torch.nn.Module<torch.Tensor, torch.Tensor> module, LeanBuilder builder) =>
        ((ILeanConvertible)module).ToLean(builder);

    /// <summary>Bytes of weights one step reads: every layer's matrices and the head (the embedding row is negligible).</summary>
    public long WeightBytesPerToken => head.Bytes + blocks.Sum(b => b.Mixer.WeightBytes + (b.Mlp?.WeightBytes ?? 0));

    /// <summary>Empty state (position 0) for <paramref name="batch"/> sequences of up to <paramref name="maxLength"/> tokens.</summary>
    public LeanState AllocateState(int batch, int maxLength)
    {
        if (batch < 1) throw new ArgumentException($"batch must be ≥ 1, got {batch}");
        if (maxLength < 1) throw new ArgumentException($"max length must be ≥ 1, got {maxLength}");
        return new LeanState(batch, maxLength, dim, vocab,
            blocks.Select(b => b.Mixer.AllocateState(batch, maxLength, Pool.Threads)).ToArray(),
            blocks.Select(b => b.Mlp?.AllocateState(batch, maxLength, Pool.Threads)).ToArray());
    }

    /// <summary>
    /// One token per sequence: <paramref name="tokens"/> [batch] → logits [batch, vocab] (a view of the state's buffer,
    /// valid until the next step); advances <paramref name="state"/> by one position.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    public ReadOnlySpan<float> Step(ReadOnlySpan<int> tokens, LeanState state)
    {
        int batch = state.Batch, position = state.Position;
        if (tokens.Length != batch) throw new ArgumentException($"the state holds {batch} sequences, got {tokens.Length} tokens");
        if (position >= state.MaxLength)
            throw new InvalidOperationException($"position {position} is past the state's allocated length {state.MaxLength}");
        if (positions is not null && position >= Config.ContextLength)
            throw new ArgumentException($"position {position} is past the learned position embeddings (context_length {Config.ContextLength})");
        var h = state.Hidden;
        for (int b = 0; b < batch; b++)
        {
            int token = tokens[b];
            if ((uint)token >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(tokens), $"token {token} is outside the vocabulary (size {vocab})");
            var row = h.AsSpan(b * dim, dim);
            embedding.AsSpan(token * dim, dim).CopyTo(row);
            if (positions is not null)
                System.Numerics.Tensors.TensorPrimitives.Add(row, positions.AsSpan(position * dim, dim), row);
        }
        embeddingNorm?.Apply(h, h, batch);
        var context = new StepContext(batch, position, Pool);
        for (int i = 0; i < blocks.Length; i++)
        {
            var block = blocks[i];
            block.MixerNorm.Apply(h, state.Normed, batch);
            block.Mixer.Step(state.Normed, state.Output, state.Mixers[i], context);
            System.Numerics.Tensors.TensorPrimitives.Add(h, state.Output, h);
            if (block.Mlp is null) continue;
            block.MlpNorm!.Apply(h, state.Normed, batch);
            block.Mlp.Step(state.Normed, state.Output, state.Mlps[i]!, context);
            System.Numerics.Tensors.TensorPrimitives.Add(h, state.Output, h);
        }
        finalNorm.Apply(h, state.Normed, batch);
        head.Multiply(state.Normed, state.Logits, batch, Pool);
        state.Position = position + 1;
        return state.Logits;
    }

    /// <summary>
    /// Takes over a TorchSharp <see cref="ModelState"/> (after <see cref="LanguageModel.Forward(torch.Tensor, ModelState?)"/>
    /// prefilled it) for the same batch: KV caches and recurrent states are copied, and the engine continues at its position.
    /// </summary>
    public void ImportState(ModelState source, LeanState target)
    {
        if (source.Layers.Length != blocks.Length) throw new ArgumentException($"state has {source.Layers.Length} layers, the model {blocks.Length}");
        if (source.Position > target.MaxLength) throw new ArgumentException($"state at position {source.Position} does not fit a lean state of length {target.MaxLength}");
        using var noGrad = torch.no_grad();
        for (int i = 0; i < blocks.Length; i++)
        {
            var layer = source.Layers[i];
            var (mixer, mlp) = layer is BlockState both ? (both.Mixer, both.Mlp) : (layer, null);
            blocks[i].Mixer.ImportState(mixer, target.Mixers[i]);
            if (blocks[i].Mlp is { } statefulMlp) statefulMlp.ImportState(mlp, target.Mlps[i]!);
        }
        target.Position = (int)source.Position;
    }

    /// <summary>
    /// Benchmarks: brings every layer to <paramref name="length"/> tokens with arbitrary contents (KV caches) when all
    /// layers allow it (<see cref="ILeanLayer.TryFillArbitrary"/>); false when the tokens must be run instead.
    /// </summary>
    public bool TryFillArbitrary(LeanState state, int length, Random random)
    {
        if (length > state.MaxLength) throw new ArgumentException($"length {length} is past the state's allocated length {state.MaxLength}");
        for (int i = 0; i < blocks.Length; i++)
            if (!blocks[i].Mixer.TryFillArbitrary(state.Mixers[i], length, random) ||
                (blocks[i].Mlp is { } mlp && state.Mlps[i]!.Bytes > 0 && !mlp.TryFillArbitrary(state.Mlps[i]!, length, random)))
                return false;
        state.Position = length;
        return true;
    }

    public void Dispose()
    {
        if (ownsPool) Pool.Dispose();
    }
}
