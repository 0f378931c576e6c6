using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ArchLab.Engine.Matrices;

/// <summary>
/// A weight matrix [rows, cols] repacked for streaming matrix-vector products: rows in blocks of <see cref="BlockRows"/>,
/// each block's columns in <see cref="Tiles"/> tiles of <see cref="TileColumns"/> columns, stored tile after tile, and
/// within a tile row after row, each row's slice of the tile packed into <see cref="Width"/> values of T by the format's
/// <see cref="TilePacker"/> (float32 copies it; bfloat16 puts two columns in each 32-bit value). So the slice of row r in
/// tile t starts at <c>((r / 8) · Tiles + t) · 8 · Width + (r % 8) · Width</c>.
/// A kernel walks one block from front to back with 8 accumulators, one per row. Rows past the last (to fill the final
/// block) are zero. Columns past the last whole tile (cols % TileColumns of them) are kept as float32 values of what the
/// format stores, in a small tail that <see cref="AddTail"/> adds in: per block, column after column, each column's 8
/// rows side by side, so that the tail is one vector multiply-add per column (a narrow matrix, such as Mamba's 8-column
/// dt_proj, may be all tail). The packed array is pinned so that
/// kernels can prefetch ahead by address.
/// </summary>
public sealed class RowBlocks<T> where T : unmanaged
{
    public const int BlockRows = 8;

    readonly T[] values;
    readonly float[] tail; // [blocks, TailCols, 8], the stored values widened to float32

    public int Rows { get; }
    public int Cols { get; }
    public int TileColumns { get; }
    public int Width { get; }
    public int Tiles { get; }
    public int TailCols { get; }
    public int Blocks => (Rows + BlockRows - 1) / BlockRows;

    /// <summary>Values stored and read by one product (the padding rows included): the packed tiles' values of T and the
    /// tail's float32 values.</summary>
    public long StoredValues => PackedValues + TailValues;
    public long PackedValues => values.Length;
    public long TailValues => tail.Length;

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
        tail = new float[Blocks * TailCols * BlockRows];
        Span<float> rowTail = stackalloc float[TailCols];
        for (int r = 0; r < rows; r++)
        {
            var row = weights.AsSpan(r * cols, cols);
            for (int t = 0; t < Tiles; t++)
                pack(r, t, row.Slice(t * tileColumns, tileColumns), values.AsSpan(Offset(r, t), width));
            if (TailCols == 0) continue;
            stored(row[(Tiles * tileColumns)..], rowTail);
            for (int c = 0; c < TailCols; c++) tail[TailOffset(r, c)] = rowTail[c];
        }
    }

    /// <summary>Row r's slice of tile t (<see cref="Width"/> values).</summary>
    public ReadOnlySpan<T> Slice(int r, int t) => values.AsSpan(Offset(r, t), Width);

    /// <summary>Where item t of row r sits when every row has <paramref name="count"/> items, stored block after block
    /// and within a block item after item, the 8 rows' item t side by side: the order of the tiles (in units of
    /// <see cref="Width"/>), of the tail columns, and of int8's group scales.</summary>
    public static int BlockOrder(int r, int t, int count) => (r / BlockRows * count + t) * BlockRows + r % BlockRows;

    int Offset(int r, int t) => BlockOrder(r, t, Tiles) * Width;

    int TailOffset(int r, int c) => BlockOrder(r, c, TailCols);

    /// <summary>Tail column c (counted from the first column past the tiles) of row r, as stored.</summary>
    public float Tail(int r, int c) => tail[TailOffset(r, c)];

    /// <summary>The first value of row block <paramref name="block"/>.</summary>
    public ref T Block(int block) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(values), (nint)block * Tiles * BlockRows * Width);

    /// <summary>One past the last byte of the packed values (prefetches stop there).</summary>
    public unsafe byte* End => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(values)) + (long)values.Length * sizeof(T);

    /// <summary>sums += the tail columns of block <paramref name="block"/>'s 8 rows times x's last <see cref="TailCols"/>
    /// values.</summary>
    public Vector256<float> AddTail(int block, ReadOnlySpan<float> x, Vector256<float> sums)
    {
        ref float xTail = ref Unsafe.AsRef(in x[Tiles * TileColumns]);
        ref float columns = ref tail[block * TailCols * BlockRows];
        for (int c = 0; c < TailCols; c++)
            sums = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xTail, c)), Vector256.LoadUnsafe(ref columns, (nuint)(c * BlockRows)), sums);
        return sums;
    }

    /// <summary>y[8·block + i] = sums[i] for the block's rows below <paramref name="rowEnd"/>.</summary>
    public void Store(int block, ReadOnlySpan<float> sums, Span<float> y, int rowEnd)
    {
        int first = block * BlockRows, count = Math.Min(BlockRows, Math.Min(rowEnd, Rows) - first);
        sums[..count].CopyTo(y.Slice(first, count));
    }
}
