using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ArchLab.Engine.Matrices;

/// <summary>
/// A weight matrix [rows, cols] repacked for streaming matrix-vector products: rows in blocks of <see cref="BlockRows"/>,
/// each block's columns in <see cref="Tiles"/> tiles of <see cref="Width"/> columns, stored tile after tile, and within a
/// tile row after row: element (r, c) of the tiled part sits at
/// <c>((r / 8) · Tiles + c / Width) · 8 · Width + (r % 8) · Width + c % Width</c>.
/// A kernel walks one block from front to back with 8 accumulators, one per row. Rows past the last (to fill the final
/// block) are zero. Columns past the last whole tile (cols % Width of them) are kept row-major, as float32, in a small
/// tail that <see cref="AddTail"/> adds in. The packed array is pinned so that kernels can prefetch ahead by address.
/// </summary>
public sealed class RowBlocks<T> where T : unmanaged
{
    public const int BlockRows = 8;

    readonly T[] values;
    readonly float[] tail; // [rows, TailCols], the stored values widened to float32

    public int Rows { get; }
    public int Cols { get; }
    public int Width { get; }
    public int Tiles { get; }
    public int TailCols { get; }
    public int Blocks => (Rows + BlockRows - 1) / BlockRows;

    /// <summary>Values stored and read by one product (the padding rows included).</summary>
    public long StoredValues => values.Length + tail.Length;

    /// <param name="convert">a float32 weight as stored (e.g. rounded to bfloat16)</param>
    /// <param name="widen">a stored value back as float32 (for the tail)</param>
    public RowBlocks(int rows, int cols, int width, float[] weights, Func<float, T> convert, Func<T, float> widen)
    {
        Rows = rows;
        Cols = cols;
        Width = width;
        Tiles = cols / width;
        TailCols = cols - Tiles * width;
        values = GC.AllocateArray<T>(Blocks * Tiles * BlockRows * width, pinned: true);
        tail = new float[rows * TailCols];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < Tiles * width; c++) values[Index(r, c)] = convert(weights[(long)r * cols + c]);
            for (int c = 0; c < TailCols; c++) tail[r * TailCols + c] = widen(convert(weights[(long)r * cols + Tiles * width + c]));
        }
    }

    int Index(int r, int c) => ((r / BlockRows * Tiles + c / Width) * BlockRows + r % BlockRows) * Width + c % Width;

    /// <summary>The first value of row block <paramref name="block"/>.</summary>
    public ref T Block(int block) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(values), (nint)block * Tiles * BlockRows * Width);

    /// <summary>One past the last byte of the packed values (prefetches stop there).</summary>
    public unsafe byte* End => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(values)) + (long)values.Length * sizeof(T);

    /// <summary>sums[i] += the tail columns of row 8·block + i times x's last <see cref="TailCols"/> values.</summary>
    public void AddTail(int block, ReadOnlySpan<float> x, Span<float> sums)
    {
        if (TailCols == 0) return;
        var xTail = x.Slice(Tiles * Width, TailCols);
        for (int i = 0, r = block * BlockRows; i < BlockRows && r < Rows; i++, r++)
        {
            var row = tail.AsSpan(r * TailCols, TailCols);
            float s = 0;
            for (int c = 0; c < TailCols; c++) s += row[c] * xTail[c];
            sums[i] += s;
        }
    }

    /// <summary>y[8·block + i] = sums[i] for the block's rows below <paramref name="rowEnd"/>.</summary>
    public void Store(int block, ReadOnlySpan<float> sums, Span<float> y, int rowEnd)
    {
        int first = block * BlockRows, count = Math.Min(BlockRows, Math.Min(rowEnd, Rows) - first);
        sums[..count].CopyTo(y.Slice(first, count));
    }
}
