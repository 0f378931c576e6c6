using ArchLab.Engine;
using ArchLab.Engine.Matrices;

namespace ArchLab.Tests.Engine;

/// <summary>The engine's matrix kernels against a plain double-precision product of the weights as each format stores
/// them, over shapes that exercise every tail (rows not a multiple of 8, columns not a multiple of the vector width or
/// of the int8 group), batches, and a split over two threads.</summary>
public class LeanMatrixTests
{
    internal static float[] Random(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    static LeanMatrix Make(WeightFormat format, int rows, int cols, float[] w, float[]? bias) => format switch
    {
        WeightFormat.Float32 => new Float32Matrix(rows, cols, w, bias),
        WeightFormat.BFloat16 => new BFloat16Matrix(rows, cols, w, bias),
        _ => new Int8Matrix(rows, cols, w, bias),
    };

    /// <summary>The weight a format stores for w[r, c].</summary>
    static double Stored(LeanMatrix m, float[] w, int r, int c) => m switch
    {
        BFloat16Matrix => BFloat16Matrix.Widen(BFloat16Matrix.Round(w[r * m.Cols + c])),
        Int8Matrix q => q.Dequantized(r, c),
        _ => w[r * m.Cols + c],
    };

    [Theory]
    [InlineData(WeightFormat.Float32)]
    [InlineData(WeightFormat.BFloat16)]
    [InlineData(WeightFormat.Int8)]
    public void ProductsMatchAPlainProductOfTheStoredWeights(WeightFormat format)
    {
        using var one = new WorkerPool(1);
        using var two = new WorkerPool(2);
        foreach (var (rows, cols) in new[] { (1, 1), (3, 7), (12, 8), (4, 16), (7, 24), (33, 40), (5, 96), (9, 100), (300, 288), (257, 1000) })
            foreach (int batch in new[] { 1, 3 })
            {
                var w = Random(rows * cols, rows + cols);
                var bias = rows % 2 == 1 ? Random(rows, 7) : null;
                var x = Random(batch * cols, 3 * cols);
                var m = Make(format, rows, cols, w, bias);
                foreach (var pool in new[] { one, two })
                {
                    var y = new float[batch * rows];
                    m.Multiply(x, y, batch, pool);
                    for (int b = 0; b < batch; b++)
                        for (int r = 0; r < rows; r++)
                        {
                            double expected = bias?[r] ?? 0;
                            for (int c = 0; c < cols; c++) expected += Stored(m, w, r, c) * x[b * cols + c];
                            double tolerance = 1e-5 * Math.Max(1, Math.Sqrt(cols));
                            Assert.True(Math.Abs(expected - y[b * rows + r]) <= tolerance,
                                $"{format} [{rows}×{cols}] batch {batch}, {pool.Threads} threads: row {r} got {y[b * rows + r]}, expected {expected}");
                        }
                }
            }
    }

    [Fact]
    public void QuantisedWeightsStayWithinTheirRoundingError()
    {
        var w = Random(64 * 96, 5);
        var bf16 = new BFloat16Matrix(64, 96, w, null);
        var int8 = new Int8Matrix(64, 96, w, null);
        for (int r = 0; r < 64; r++)
            for (int c = 0; c < 96; c++)
            {
                float v = w[r * 96 + c];
                Assert.True(Math.Abs(Stored(bf16, w, r, c) - v) <= Math.Abs(v) / 256, "bf16 keeps 8 significant bits");
                float groupMax = w.AsSpan(r * 96 + c / 32 * 32, 32).ToArray().Max(Math.Abs);
                Assert.True(Math.Abs(int8.Dequantized(r, c) - v) <= groupMax / 127 / 2 * 1.0001, "int8 rounds to half a step of its group's scale");
            }
        Assert.Equal(2L * 64 * 96, bf16.Bytes);
        Assert.Equal(64L * 96 + 4 * 64 * 3, int8.Bytes);
        // 100 columns: three groups of 32 and a last group of 4, each rounded to its own scale
        var w100 = Random(4 * 100, 1);
        var int8Tail = new Int8Matrix(4, 100, w100, null);
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 100; c++)
            {
                int start = c / 32 * 32, length = Math.Min(32, 100 - start);
                float groupMax = w100.AsSpan(r * 100 + start, length).ToArray().Max(Math.Abs);
                Assert.True(Math.Abs(int8Tail.Dequantized(r, c) - w100[r * 100 + c]) <= groupMax / 127 / 2 * 1.0001, $"row {r} column {c}");
            }
    }
}
