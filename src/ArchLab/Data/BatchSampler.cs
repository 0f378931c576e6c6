using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Data;

/// <summary>
/// Language-model batches from a token sequence: x = tokens[o .. o+T), y = tokens[o+1 .. o+T+1) for each row.
/// <para>Training (<see cref="GetBatch"/>): each row's offset o is drawn uniformly from all valid starts, as a pure
/// function of (seed, step, microStep, row) — a hash, no RNG state — so a resumed run draws exactly the same batches.</para>
/// <para>Evaluation (<see cref="EvalBatches"/>): consecutive non-overlapping windows in order, deterministic.</para>
/// Tensors are int64 [B, T] on <c>device</c> (CPU by default) and owned by the caller (dispose them, or use a
/// <c>torch.NewDisposeScope()</c>).
/// </summary>
public sealed class BatchSampler
{
    readonly ITokenSequence _tokens;
    readonly Device _device;

    public BatchSampler(ITokenSequence tokens, int batchSize, int seqLen, long seed, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(seqLen, 1);
        if (tokens.Count < seqLen + 1L)
            throw new ArgumentException(
                $"The corpus has {tokens.Count:N0} tokens, fewer than seqLen + 1 = {seqLen + 1:N0} needed for one sequence" +
                (tokens is TokenFile file ? $" ({file.Path})." : "."), nameof(tokens));
        _tokens = tokens;
        _device = device ?? CPU;
        BatchSize = batchSize;
        SeqLen = seqLen;
        Seed = seed;
    }

    public int BatchSize { get; }
    public int SeqLen { get; }
    public long Seed { get; }

    /// <summary>Number of valid starting offsets (each needs SeqLen + 1 tokens).</summary>
    public long StartCount => _tokens.Count - SeqLen;

    /// <summary>Number of non-overlapping evaluation windows of SeqLen targets.</summary>
    public long EvalWindowCount => (_tokens.Count - 1) / SeqLen;

    /// <summary>The training batch for (step, microStep): a pure function of (seed, step, microStep).</summary>
    public (Tensor X, Tensor Y) GetBatch(long step, int microStep = 0) => Gather(Offsets(step, microStep));

    /// <summary>The row offsets <see cref="GetBatch"/> uses, exposed for logging and tests.</summary>
    public long[] Offsets(long step, int microStep = 0)
    {
        var offsets = new long[BatchSize];
        for (int row = 0; row < BatchSize; row++)
        {
            ulong h = Mix((ulong)Seed);
            h = Mix(h ^ (ulong)step);
            h = Mix(h ^ (ulong)microStep);
            h = Mix(h ^ (ulong)row);
            offsets[row] = (long)(((UInt128)h * (ulong)StartCount) >> 64); // uniform in [0, StartCount)
        }
        return offsets;
    }

    /// <summary>
    /// Evaluation batches of consecutive, non-overlapping windows (window w starts at w × SeqLen), BatchSize rows each
    /// (the last batch may be smaller). With all windows this covers the tokens once; when <paramref name="maxBatches"/>
    /// × BatchSize is fewer than <see cref="EvalWindowCount"/>, the windows taken are spread evenly over the whole split.
    /// </summary>
    public IEnumerable<(Tensor X, Tensor Y)> EvalBatches(int maxBatches = int.MaxValue)
    {
        long windows = EvalWindowCount;
        long taken = Math.Min(windows, (long)Math.Min(maxBatches, int.MaxValue / BatchSize) * BatchSize);
        for (long first = 0; first < taken; first += BatchSize)
        {
            int rows = (int)Math.Min(BatchSize, taken - first);
            var offsets = new long[rows];
            for (int r = 0; r < rows; r++)
                offsets[r] = (long)((Int128)(first + r) * windows / taken) * SeqLen;
            yield return Gather(offsets);
        }
    }

    (Tensor X, Tensor Y) Gather(long[] offsets)
    {
        int rows = offsets.Length, t = SeqLen;
        var x = new long[rows * t];
        var y = new long[rows * t];
        var window = new long[t + 1];
        for (int r = 0; r < rows; r++)
        {
            _tokens.CopyTo(offsets[r], window);
            window.AsSpan(0, t).CopyTo(x.AsSpan(r * t));
            window.AsSpan(1, t).CopyTo(y.AsSpan(r * t));
        }
        long[] shape = [rows, t];
        return (tensor(x, shape, ScalarType.Int64, _device), tensor(y, shape, ScalarType.Int64, _device));
    }

    /// <summary>SplitMix64: a bijective 64-bit mixer with good avalanche.</summary>
    static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
