using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ArchLab.Engine.Matrices;

/// <summary>
/// A weight matrix [rows, cols] repacked for streaming matrix-vector products: rows in blocks of <see cref="BlockRows"/>,
/// each block's columns in <see cref="Tiles"/> tiles of <see cref="TileColumns"/> columns, stored tile after tile, and
/// within a tile row after row, each row's slice of the tile packed into <see cref="Width"/> values of T by the format's
/// <see cref="TilePacker"/> (float32 copies it; bfloat16 puts two columns in each 32-bit value). So the slice of row r in
/// tile t starts at <c>((r / 8) · Tiles + t) · 8 · Width + (r % 8) · Width</c>.
/// A kernel walks one block from front to back with 8 accumulators, one per row. Rows past the last (to fill the final
/// block) are zero. Columns past the last whole tile (cols % TileColumns of them) are kept row-major, as float32 values
/// of what the format stores, in a small tail that <see cref="AddTail"/> adds in. The packed array is pinned so that
/// kernels can prefetch ahead by address.
/// </summary>
public sealed class RowBlocks<T> where T : unmanaged
{
    public const int BlockRows = 8;

    readonly T[] values;
    readonly float[] tail; // [rows, TailCols], the stored values widened to float32

    public int Rows { get; }
    public int Cols { get; }
    public int TileColumns { get; }
    public int Width { get; }
    public int Tiles { get; }
    public int TailCols { get; }
    public int Blocks => (Rows + BlockRows - 1) / BlockRows;

    /// <summary>Values stored and read by one product (the padding rows included).</summary>
    public long StoredValues => values.Length + tail.Length;

    /// <summary>Packs row r's slice of tile t (<see cref="TileColumns"/> float32 weights) into <see cref="Width"/> values.</summary>
    public delegate void TilePacker(int r, int t, ReadOnlySpan<float> columns, Span<T> packed);

    /// <summary>Writes a row's tail columns as the format stores them (e.g. rounded to bfloat16), as float32.</summary>
    public delegate void TailRounder(ReadOnlySpan<float> columns, Span<float> stored);

    public RowBlocks(int rows, int cols, int tileColumns, int width, float[] weights, TilePacker pack, TailRounder stored)
    {
        Rows = rows;
        Cols = cols;
        TileColumns = tileColumns;
        Width = width;
        Tiles = cols / tileColumns;
        TailCols = cols - Tiles * tileColumns;
        values = GC.AllocateArray<T>(Blocks * Tiles * BlockRows * width, pinned: true);
        tail = new float[rows * TailCols];
        for (int r = 0; r < rows; r++)
        {
            var row = weights.AsSpan(r * cols, cols);
            for (int t = 0; t < Tiles; t++)
                pack(r, t, row.Slice(t * tileColumns, tileColumns), values.AsSpan(Offset(r, t), width));
            var rowTail = row[(Tiles * tileColumns)..];
            if (TailCols > 0) stored(rowTail, tail.AsSpan(r * TailCols, TailCols));
        }
    }

    /// <summary>Row r's slice of tile t (<see cref="Width"/> values).</summary>
    public ReadOnlySpan<T> Slice(int r, int t) => values.AsSpan(Offset(r, t), Width);

    int Offset(int r, int t) => ((r / BlockRows * Tiles + t) * BlockRows + r % BlockRows) * Width;

    /// <summary>Tail column c (counted from the first column past the tiles) of row r, as stored.</summary>
    public float Tail(int r, int c) => tail[r * TailCols + c];

    /// <summary>The first value of row block <paramref name="block"/>.</summary>
    public ref T Block(int block) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(values), (nint)block * Tiles * BlockRows * Width);

    /// <summary>One past the last byte of the packed values (prefetches stop there).</summary>
    public unsafe byte* End => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(values)) + (long)values.Length * sizeof(T);

    /// <summary>sums[i] += the tail columns of row 8·block + i times x's last <see cref="TailCols"/> values.</summary>
    public void AddTail(int block, ReadOnlySpan<float> x, Span<float> sums)
    {
        if (TailCols == 0) return;
        ref float xTail = ref Unsafe.AsRef(in x[Tiles * TileColumns]);
        for (int i = 0, r = block * BlockRows; i < BlockRows && r < Rows; i++, r++)
            sums[i] += Simd.Dot(ref tail[r * TailCols], ref xTail, TailCols);
    }

    /// <summary>y[8·block + i] = sums[i] for the block's rows below <paramref name="rowEnd"/>.</summary>
    public void Store(int block, ReadOnlySpan<float> sums, Span<float> y, int rowEnd)
    {
        int first = block * BlockRows, count = Math.Min(BlockRows, Math.Min(rowEnd, Rows) - first);
        sums[..count].CopyTo(y.Slice(first, count));
    }
}
