using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Engine.Matrices;

/// <summary>
/// A weight matrix W [rows, cols] (a linear layer's weight, y = W·x + bias) in one of the engine's
/// <see cref="WeightFormat"/>s. <see cref="Multiply"/> computes y[b] = W·x[b] for a batch of vectors, splitting the rows
/// over the <see cref="WorkerPool"/>'s threads when the work is large enough to pay for the hand-off. Each row block of a
/// few rows is read from memory once and applied to every vector of the batch while it is in cache (batch decoding is a
/// matrix-matrix product with the weights read once per step).
/// <para>Not thread-safe: one caller at a time (an engine steps one batch at a time).</para>
/// </summary>
public abstract class LeanMatrix
{
    /// <summary>Multiply-adds below which a product runs on the calling thread alone: handing half of it to a worker costs
    /// more than the half. At 48K a dim-128 model's 128×512 products were split, and 2 threads ran its step at 0.85–1.06×
    /// of 1 thread's speed; at 128K (they stay whole) 0.98–1.02×, with the stories15M shape's 2-thread speed unchanged
    /// (4 alternating pairs each, RWKV-4, Mamba and stories15M shapes, 2026-12-05). Tried again at 32K after the hand-off
    /// fell from 1.0 to 0.5 µs and a layer's independent products became one job (<see cref="ProductGroup"/>): dim-128
    /// steps on 2 threads ran at 1.12–1.2× of 1 thread's speed in one run and 0.86–0.92× in another minutes later (RWKV-4,
    /// Transformer, Mamba; 5 pairs each), so they stay whole.</summary>
    internal const long ParallelThreshold = 128 * 1024;

    public int Rows { get; }
    public int Cols { get; }
    public float[]? Bias { get; }
    public abstract WeightFormat Format { get; }

    /// <summary>Bytes read from memory by one product (weights, scales and bias).</summary>
    public abstract long Bytes { get; }

    readonly MultiplyJob job;

    protected LeanMatrix(int rows, int cols, float[]? bias)
    {
        Rows = rows;
        Cols = cols;
        Bias = bias;
        job = new MultiplyJob(this);
    }

    /// <summary>y[b, r] = Σ_c W[r, c]·x[b, c] (+ bias[r]) for rows in [rowStart, rowEnd). x is [batch, Cols], y [batch, Rows].
    /// Internal as well as protected: a <see cref="ProductGroup"/> runs its threads' shares through it.</summary>
    protected internal abstract void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int batch, int rowStart, int rowEnd);

    /// <summary>y [batch, Rows] = x [batch, Cols] · Wᵀ (+ bias), over the pool's threads.</summary>
    public void Multiply(ReadOnlyMemory<float> x, Memory<float> y, int batch, WorkerPool pool)
    {
        CheckShapes(x, y, batch);
        if (pool.Threads == 1 || (long)Rows * Cols * batch < ParallelThreshold || Rows < 8)
        {
            MultiplyRows(x.Span, y.Span, batch, 0, Rows);
            return;
        }
        job.Set(x, y, batch);
        pool.Run(job);
        job.Clear();
    }

    internal void CheckShapes(ReadOnlyMemory<float> x, Memory<float> y, int batch)
    {
        if (x.Length < batch * Cols || y.Length < batch * Rows)
            throw new ArgumentException($"matrix [{Rows}, {Cols}] × batch {batch}: x has {x.Length} values, y {y.Length}");
    }

    /// <summary>Rows of part <paramref name="part"/> of <paramref name="parts"/>: contiguous, in whole blocks of 8 (the
    /// <see cref="RowBlocks{T}"/> a kernel reads at once).</summary>
    (int Start, int End) PartRows(int part, int parts)
    {
        const int block = RowBlocks<float>.BlockRows;
        int blocks = (Rows + block - 1) / block;
        int perPart = (blocks + parts - 1) / parts;
        int start = Math.Min(Rows, part * perPart * block);
        return (start, Math.Min(Rows, start + perPart * block));
    }

    protected void AddBias(Span<float> y, int batch, int rowStart, int rowEnd)
    {
        if (Bias is null) return;
        var bias = Bias.AsSpan(rowStart, rowEnd - rowStart);
        for (int b = 0; b < batch; b++)
        {
            var part = y.Slice(b * Rows + rowStart, bias.Length);
            System.Numerics.Tensors.TensorPrimitives.Add(part, bias, part);
        }
    }

    /// <summary>The weight (and bias) of a linear layer in the given format.</summary>
    public static LeanMatrix From(Tensor weight, Tensor? bias, WeightFormat format)
    {
        if (weight.dim() != 2) throw new ArgumentException($"a weight matrix must be 2-D, got [{string.Join(", ", weight.shape)}]");
        int rows = (int)weight.shape[0], cols = (int)weight.shape[1];
        float[] values = ToFloats(weight);
        float[]? b = bias is null ? null : ToFloats(bias);
        return format switch
        {
            WeightFormat.Float32 => new Float32Matrix(rows, cols, values, b),
            WeightFormat.BFloat16 => new BFloat16Matrix(rows, cols, values, b),
            _ => new Int8Matrix(rows, cols, values, b),
        };
    }

    /// <summary>A tensor's values as a float32 array (a copy, in row-major order).</summary>
    public static float[] ToFloats(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
    }

    sealed class MultiplyJob(LeanMatrix matrix) : IPoolJob
    {
        ReadOnlyMemory<float> x;
        Memory<float> y;
        int batch;

        public void Set(ReadOnlyMemory<float> x, Memory<float> y, int batch) { this.x = x; this.y = y; this.batch = batch; }

        public void Clear() { x = default; y = default; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
        public void Execute(int part, int parts)
        {
            var (start, end) = matrix.PartRows(part, parts);
            if (start < end) matrix.MultiplyRows(x.Span, y.Span, batch, start, end);
        }
    }
}
