using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ArchLab.Engine.Matrices;

/// <summary>
/// A weight matrix stored as <see cref="RowBlocks{T}"/>: the product walks the blocks of 8 rows, and for each calls the
/// format's kernel <see cref="DotBlock"/>, which returns the block's 8 dot products with x over its whole tiles; the tail
/// columns and a partial last block are finished here. Matrices of more than a few KiB are prefetched
/// <see cref="PrefetchDistance"/> bytes ahead while they are read (a decoder's weights come from L3 or DRAM on every
/// step; they rarely fit in L2).
/// </summary>
public abstract class BlockedMatrix<T> : LeanMatrix where T : unmanaged
{
    /// <summary>How far ahead of the tile being read a kernel prefetches, in bytes: about DRAM latency × bandwidth. 4, 8,
    /// 16 and 32 KiB measured alike at the stories15M shape; 1 KiB was slower on the dim-128 models (2026-12-05).</summary>
    protected const int PrefetchDistance = 16 * 1024;

    protected RowBlocks<T> Packed { get; }
    readonly bool streams;

    protected BlockedMatrix(RowBlocks<T> packed, float[]? bias) : base(packed.Rows, packed.Cols, bias)
    {
        Packed = packed;
        streams = packed.StoredValues * Unsafe.SizeOf<T>() > 4096;
    }

    /// <summary>The dot products of the 8 rows of block k (its first value at <paramref name="block"/>,
    /// <paramref name="tiles"/> tiles) with x, prefetching ahead up to <paramref name="end"/> unless it is null.</summary>
    protected abstract unsafe Vector256<float> DotBlock(int k, ref T block, ref float x, int tiles, byte* end);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // SIMD code: optimised from the first call, not after tiering
    protected internal sealed override unsafe void MultiplyRows(ReadOnlySpan<float> x, Span<float> y, int batch, int rowStart, int rowEnd)
    {
        const int block = RowBlocks<T>.BlockRows;
        Span<float> sums = stackalloc float[block];
        for (int k = rowStart / block; k * block < rowEnd; k++)
            for (int b = 0; b < batch; b++)
            {
                var xb = x.Slice(b * Cols, Cols);
                var yb = y.Slice(b * Rows, Rows);
                // The weights come in from memory for the first vector of the batch; the rest find them in L1.
                var dots = DotBlock(k, ref Packed.Block(k), ref MemoryMarshal.GetReference(xb), Packed.Tiles,
                    streams && b == 0 ? Packed.End : null);
                if (Packed.TailCols > 0) dots = Packed.AddTail(k, xb, dots);
                if ((k + 1) * block <= rowEnd)
                    dots.StoreUnsafe(ref MemoryMarshal.GetReference(yb), (nuint)(k * block)); // the usual case: a whole block
                else
                {
                    dots.CopyTo(sums);
                    Packed.Store(k, sums, yb, rowEnd);
                }
            }
        AddBias(y, batch, rowStart, rowEnd);
    }

    /// <summary>Prefetches the 512 bytes at p (a tile of 8 rows × 64 bytes) unless they lie past the matrix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected static unsafe void Prefetch512(byte* p, byte* end)
    {
        if (p >= end) return;
        Sse.Prefetch0(p); Sse.Prefetch0(p + 64); Sse.Prefetch0(p + 128); Sse.Prefetch0(p + 192);
        Sse.Prefetch0(p + 256); Sse.Prefetch0(p + 320); Sse.Prefetch0(p + 384); Sse.Prefetch0(p + 448);
    }

    /// <summary>Prefetches the 256 bytes at p (a tile of 8 rows × 32 bytes) unless they lie past the matrix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected static unsafe void Prefetch256(byte* p, byte* end)
    {
        if (p >= end) return;
        Sse.Prefetch0(p); Sse.Prefetch0(p + 64); Sse.Prefetch0(p + 128); Sse.Prefetch0(p + 192);
    }
}
