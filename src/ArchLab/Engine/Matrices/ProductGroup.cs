using System.Runtime.CompilerServices;

namespace ArchLab.Engine.Matrices;

/// <summary>
/// Independent matrix products of one layer (each its own input and output: attention's q, k and v; a gated MLP's up and
/// gate) handed to the <see cref="WorkerPool"/> as one job. The rows of all the matrices, in blocks of 8, are cut into one
/// contiguous share of the work per thread, so one hand-off (about 0.5 µs between two cores) serves every product. At
/// the stories15M shape (dim 288), with 2 threads, that took the float32 step from 0.96 to 0.91 ms (medians of 5
/// alternating pairs of builds, together with the cheaper hand-off of <see cref="WorkerPool"/>; 2026-12-05). A group
/// below <see cref="LeanMatrix.ParallelThreshold"/> multiply-adds runs on the calling thread, as one product would.
/// Not thread-safe (one caller at a time, like <see cref="LeanMatrix"/>); nothing is allocated per call.
/// </summary>
public sealed class ProductGroup : IPoolJob
{
    const int BlockRows = RowBlocks<float>.BlockRows; // a thread's share is whole blocks of the kernels' rows
    readonly LeanMatrix[] matrices;
    readonly long[] costBefore; // Σ blocks·cols of the matrices before each one: where its work starts in the group's
    readonly long cost;
    readonly ReadOnlyMemory<float>[] inputs;
    readonly Memory<float>[] outputs;
    int batch;

    public ProductGroup(params LeanMatrix[] matrices)
    {
        if (matrices.Length < 2) throw new ArgumentException($"a product group needs at least two matrices, got {matrices.Length}");
        this.matrices = matrices;
        costBefore = new long[matrices.Length];
        for (int i = 0; i < matrices.Length; i++)
        {
            costBefore[i] = cost;
            cost += (long)Blocks(matrices[i]) * matrices[i].Cols;
        }
        inputs = new ReadOnlyMemory<float>[matrices.Length];
        outputs = new Memory<float>[matrices.Length];
    }

    /// <summary>y_i [batch, Rows_i] = x_i [batch, Cols_i] · W_iᵀ (+ bias) for both matrices of the group.</summary>
    public void Multiply(int batch, WorkerPool pool, ReadOnlyMemory<float> x0, Memory<float> y0, ReadOnlyMemory<float> x1, Memory<float> y1)
    {
        RequireCount(2);
        (inputs[0], outputs[0], inputs[1], outputs[1]) = (x0, y0, x1, y1);
        Run(batch, pool);
    }

    /// <summary>The same for a group of three.</summary>
    public void Multiply(int batch, WorkerPool pool, ReadOnlyMemory<float> x0, Memory<float> y0, ReadOnlyMemory<float> x1, Memory<float> y1,
                         ReadOnlyMemory<float> x2, Memory<float> y2)
    {
        RequireCount(3);
        (inputs[0], outputs[0], inputs[1], outputs[1], inputs[2], outputs[2]) = (x0, y0, x1, y1, x2, y2);
        Run(batch, pool);
    }

    /// <summary>The same for a group of four.</summary>
    public void Multiply(int batch, WorkerPool pool, ReadOnlyMemory<float> x0, Memory<float> y0, ReadOnlyMemory<float> x1, Memory<float> y1,
                         ReadOnlyMemory<float> x2, Memory<float> y2, ReadOnlyMemory<float> x3, Memory<float> y3)
    {
        RequireCount(4);
        (inputs[0], outputs[0], inputs[1], outputs[1], inputs[2], outputs[2], inputs[3], outputs[3]) = (x0, y0, x1, y1, x2, y2, x3, y3);
        Run(batch, pool);
    }

    void RequireCount(int count)
    {
        if (count != matrices.Length) throw new ArgumentException($"this group has {matrices.Length} matrices, given {count} inputs and outputs");
    }

    void Run(int batch, WorkerPool pool)
    {
        this.batch = batch;
        for (int i = 0; i < matrices.Length; i++) matrices[i].CheckShapes(inputs[i], outputs[i], batch);
        if (pool.Threads == 1 || cost * BlockRows * batch < LeanMatrix.ParallelThreshold) Execute(0, 1);
        else pool.Run(this);
        Array.Clear(inputs);
        Array.Clear(outputs);
    }

    static int Blocks(LeanMatrix m) => (m.Rows + BlockRows - 1) / BlockRows;

    /// <summary>Part <paramref name="part"/>'s share: the blocks whose work starts in [part·cost/parts, (part+1)·cost/parts),
    /// matrix by matrix. Every block falls in exactly one share, and the same shapes always give the same shares.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code underneath: optimised from the first call
    public void Execute(int part, int parts)
    {
        for (int i = 0; i < matrices.Length; i++)
        {
            var m = matrices[i];
            int first = FirstBlock(i, part, parts), end = FirstBlock(i, part + 1, parts);
            if (first < end)
                m.MultiplyRows(inputs[i].Span, outputs[i].Span, batch, first * BlockRows, Math.Min(m.Rows, end * BlockRows));
        }
    }

    /// <summary>The first block j of matrix i with (costBefore[i] + j·cols)·parts ≥ part·cost, within [0, blocks].</summary>
    int FirstBlock(int i, int part, int parts)
    {
        long columns = matrices[i].Cols, needed = part * cost - costBefore[i] * parts;
        if (needed <= 0) return 0;
        long j = (needed + columns * parts - 1) / (columns * parts);
        return (int)Math.Min(j, Blocks(matrices[i]));
    }
}
