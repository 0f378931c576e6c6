using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// What a mixer carries from one token to the next. The state owns its tensors: they live outside any dispose scope
/// and are freed by <see cref="Dispose"/>.
/// </summary>
public abstract class MixerState : IDisposable
{
    /// <summary>Tokens consumed so far (absolute position of the next token).</summary>
    public long Position { get; protected internal set; }

    protected abstract IEnumerable<Tensor> Tensors { get; }

    /// <summary>Another state's tensors, for states made of states (<see cref="Models.BlockState"/>).</summary>
    protected static IEnumerable<Tensor> TensorsOf(MixerState state) => state.Tensors;

    /// <summary>What the state means, for comparing two states (tests): its tensors, or only their filled part where a state
    /// preallocates (a KV cache up to <see cref="Position"/>).</summary>
    public virtual IReadOnlyList<Tensor> Values => Tensors.ToArray();

    /// <summary>Bytes held by the state's tensors right now (measured, not analytic).</summary>
    public long Bytes => Tensors.Sum(t => t.NumberOfElements * t.ElementSize);

    /// <summary>The state as the type a mixer needs (null stays null); any other type is an error naming both.</summary>
    public static T? As<T>(MixerState? state, string owner) where T : MixerState => state switch
    {
        null => null,
        T typed => typed,
        _ => throw new ArgumentException($"{owner} needs a {typeof(T).Name}, got {state.GetType().Name}"),
    };

    /// <summary>Like <see cref="As{T}"/> for a state that must be there (a step).</summary>
    public static T Require<T>(MixerState state, string owner) where T : MixerState =>
        As<T>(state, owner) ?? throw new ArgumentNullException(nameof(state), $"{owner} needs a {typeof(T).Name}");

    /// <summary>
    /// Benchmarks: whether <see cref="FillArbitrary"/> may bring this state to a longer length with arbitrary contents,
    /// because the cost of later steps does not depend on them and running the tokens would cost more (a KV cache: a
    /// real 64k-token prefill is O(n²)). False (the default) where the tokens must really be run: a recurrent state,
    /// whose values set the arithmetic of later steps.
    /// </summary>
    public virtual bool CanFillArbitrary => false;

    /// <summary>Brings the state to <paramref name="length"/> tokens with arbitrary contents drawn from
    /// <paramref name="random"/>; only where <see cref="CanFillArbitrary"/>. Asked and done separately so that a state made
    /// of states (a block, a model) changes none of its parts when one of them must run the tokens.</summary>
    public virtual void FillArbitrary(long length, Random random) =>
        throw new NotSupportedException($"{GetType().Name} must run its tokens (CanFillArbitrary is false)");

    /// <summary>Takes a tensor out of the current dispose scope so the state can keep it.</summary>
    protected static Tensor Keep(Tensor t) => t.DetachFromDisposeScope();

    public virtual void Dispose()
    {
        foreach (var t in Tensors) t.Dispose();
        GC.SuppressFinalize(this);
    }
}
