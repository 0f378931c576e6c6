using ArchLab.Engine.Matrices;
using ArchLab.Mixers;

namespace ArchLab.Engine;

/// <summary>What one engine step knows besides the data: the batch size, the position of this token (the same for every
/// sequence of the batch) and the threads to split matrix products over.</summary>
public readonly record struct StepContext(int Batch, int Position, WorkerPool Pool);

/// <summary>
/// A layer's per-batch memory in the engine: its recurrent state or KV cache (counted in <see cref="Bytes"/>) and the
/// scratch buffers one step needs, all allocated once so that a step allocates nothing.
/// </summary>
public abstract class LeanLayerState
{
    /// <summary>Bytes of state carried from token to token (not scratch); a KV cache counts its whole capacity.</summary>
    public abstract long Bytes { get; }
}

/// <summary>
/// A mixer or an MLP in the engine: one token per sequence, x [batch, dim] → y [batch, dim] (plain float32 arrays, row
/// per sequence). The engine twin of <see cref="Mixers.Mixer.Step"/>, built from a TorchSharp module by
/// <see cref="ILeanConvertible.ToLean"/>.
/// </summary>
public interface ILeanLayer
{
    /// <summary>Bytes of weights one step reads (matrices, scales, biases; small vectors excluded).</summary>
    long WeightBytes { get; }

    /// <summary>Empty state (position 0) and scratch for <paramref name="batch"/> sequences of up to <paramref name="maxLength"/>
    /// tokens, stepped on <paramref name="threads"/> threads.</summary>
    LeanLayerState AllocateState(int batch, int maxLength, int threads);

    /// <summary>One token: writes y from x and advances the state.</summary>
    void Step(float[] x, float[] y, LeanLayerState state, in StepContext context);

    /// <summary>
    /// Benchmarks: brings the state to <paramref name="length"/> tokens with arbitrary contents where the cost of later
    /// steps does not depend on them and running the tokens would cost more (a KV cache: a real 64k-token prefill is
    /// O(n²)); false where the tokens must really be run (a recurrent state, whose values set the arithmetic).
    /// </summary>
    bool TryFillArbitrary(LeanLayerState state, int length, Random random) => false;

    /// <summary>Takes over the TorchSharp module's state (after a TorchSharp prefill) for the same batch; stateless layers ignore it.</summary>
    void ImportState(MixerState? source, LeanLayerState target);
}

/// <summary>A TorchSharp module (mixer or MLP) that has an engine twin.</summary>
public interface ILeanConvertible
{
    ILeanLayer ToLean(LeanBuilder builder);
}

/// <summary>Converts a module's weights for the engine: matrices in the chosen format, small vectors as float32.</summary>
public sealed class LeanBuilder(WeightFormat format)
{
    public WeightFormat Format { get; } = format;

    public LeanMatrix Matrix(Models.Projection projection) => LeanMatrix.From(projection.weight, projection.bias, Format);

    public LeanMatrix Matrix(TorchSharp.torch.Tensor weight, TorchSharp.torch.Tensor? bias = null) => LeanMatrix.From(weight, bias, Format);

    public static float[] Vector(TorchSharp.torch.Tensor t) => LeanMatrix.ToFloats(t);

    /// <summary>Objects several layers of the model being converted share, one per key (the builder lives as long as one
    /// <see cref="LeanModel"/>'s conversion): RWKV-7's value residual carrier, keyed by the TorchSharp layers' shared link.</summary>
    readonly Dictionary<object, object> shared = new(ReferenceEqualityComparer.Instance);

    /// <summary>The object shared under <paramref name="key"/>, made by <paramref name="create"/> on first use.</summary>
    public T Shared<T>(object key, Func<T> create) where T : class
    {
        if (!shared.TryGetValue(key, out var value)) shared[key] = value = create();
        return value as T ?? throw new InvalidOperationException($"the object shared under this key is a {value.GetType().Name}, not a {typeof(T).Name}");
    }

    /// <summary>Copies a TorchSharp state tensor into an engine state array of the same number of values.</summary>
    public static void CopyInto(TorchSharp.torch.Tensor from, float[] to)
    {
        var values = LeanMatrix.ToFloats(from);
        if (values.Length != to.Length)
            throw new ArgumentException($"state tensor [{string.Join(", ", from.shape)}] has {values.Length} values, the lean state {to.Length}");
        values.CopyTo(to, 0);
    }
}
