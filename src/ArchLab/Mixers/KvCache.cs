using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// Keys and values of every token seen so far, [batch, kvHeads, capacity, headDim], filled up to <see cref="MixerState.Position"/>.
/// Preallocated for the expected length; grows (doubling) if a caller goes past it.
/// </summary>
public sealed class KvCache : MixerState
{
    Tensor keys, values;

    public KvCache(long batch, long kvHeads, long capacity, long headDim, ScalarType dtype, Device device)
    {
        keys = Keep(zeros([batch, kvHeads, Math.Max(capacity, 1), headDim], dtype, device));
        values = Keep(zeros([batch, kvHeads, Math.Max(capacity, 1), headDim], dtype, device));
    }

    public long Capacity => keys.shape[2];

    public long KvHeads => keys.shape[1];

    public long HeadDim => keys.shape[3];

    protected override IEnumerable<Tensor> Tensors => [keys, values];

    public override IReadOnlyList<Tensor> Values => [keys.narrow(2, 0, Position), values.narrow(2, 0, Position)];

    /// <summary>Views of the keys and values written so far, [batch, kvHeads, position, headDim] each.</summary>
    public (Tensor Keys, Tensor Values) Contents => (keys.narrow(2, 0, Position), values.narrow(2, 0, Position));

    /// <summary>Writes k, v [batch, kvHeads, t, headDim] at the current position and returns views of all keys and values so far.</summary>
    public (Tensor Keys, Tensor Values) Append(Tensor k, Tensor v)
    {
        long t = k.shape[2];
        if (Position + t > Capacity) Grow(Math.Max(Position + t, 2 * Capacity));
        keys.narrow(2, Position, t).copy_(k);
        values.narrow(2, Position, t).copy_(v);
        Position += t;
        return (keys.narrow(2, 0, Position), values.narrow(2, 0, Position));
    }

    /// <summary>Later steps attend to every cached key at the same cost whatever the keys hold.</summary>
    public override bool CanFillArbitrary => true;

    /// <summary>Appends standard-normal keys and values up to <paramref name="length"/> (a generator seeded from
    /// <paramref name="random"/>, so a benchmark's state is the same every run).</summary>
    public override void FillArbitrary(long length, Random random)
    {
        if (length < Position) throw new ArgumentException($"length {length} is before the cache's position {Position}");
        long n = length - Position;
        if (n == 0) return;
        if (length > Capacity) Grow(Math.Max(length, 2 * Capacity));
        var generator = new Generator((ulong)random.NextInt64(), keys.device);
        using (no_grad())
        {
            keys.narrow(2, Position, n).normal_(generator: generator);
            values.narrow(2, Position, n).normal_(generator: generator);
        }
        Position = length;
    }

    void Grow(long capacity)
    {
        var shape = keys.shape;
        shape[2] = capacity;
        var newKeys = Keep(zeros(shape, keys.dtype, keys.device));
        var newValues = Keep(zeros(shape, values.dtype, values.device));
        newKeys.narrow(2, 0, Position).copy_(keys.narrow(2, 0, Position));
        newValues.narrow(2, 0, Position).copy_(values.narrow(2, 0, Position));
        keys.Dispose(); values.Dispose();
        keys = newKeys; values = newValues;
    }
}
