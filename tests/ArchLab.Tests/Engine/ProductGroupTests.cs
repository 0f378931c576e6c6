using ArchLab.Engine;
using ArchLab.Engine.Matrices;

namespace ArchLab.Tests.Engine;

/// <summary><see cref="ProductGroup"/>: the group's products, split over 1, 2 or 3 threads, are bit for bit each
/// matrix's own product on one thread (a thread's share is whole row blocks, and a block's sums do not depend on who
/// computes them), and every row is written.</summary>
public class ProductGroupTests
{
    static float[] Random(int n, int seed) => LeanMatrixTests.Random(n, seed);

    static LeanMatrix Make(WeightFormat format, int rows, int cols, int seed) => format switch
    {
        WeightFormat.Float32 => new Float32Matrix(rows, cols, Random(rows * cols, seed), rows % 2 == 1 ? Random(rows, seed + 1) : null),
        WeightFormat.BFloat16 => new BFloat16Matrix(rows, cols, Random(rows * cols, seed), null),
        _ => new Int8Matrix(rows, cols, Random(rows * cols, seed), Random(rows, seed + 1)),
    };

    [Theory]
    [InlineData(WeightFormat.Float32)]
    [InlineData(WeightFormat.BFloat16)]
    [InlineData(WeightFormat.Int8)]
    public void Grouped_products_equal_each_matrix_alone_on_any_thread_count(WeightFormat format)
    {
        // Large enough to be split (over LeanMatrix.ParallelThreshold multiply-adds together), with rows that are not
        // whole blocks of 8 and matrices of different heights and widths.
        (int Rows, int Cols)[][] groups =
        [
            [(133, 520), (64, 520), (301, 520)],
            [(520, 136), (77, 260)],
            [(200, 300), (8, 300), (1, 300), (455, 300)],
        ];
        using var one = new WorkerPool(1);
        using var two = new WorkerPool(2);
        using var three = new WorkerPool(3);
        int seed = 1;
        foreach (var shapes in groups)
            foreach (int batch in new[] { 1, 2 })
            {
                var matrices = shapes.Select(s => Make(format, s.Rows, s.Cols, seed++)).ToArray();
                var inputs = matrices.Select(m => Random(batch * m.Cols, seed++)).ToArray();
                var expected = matrices.Select((m, i) =>
                {
                    var y = new float[batch * m.Rows];
                    m.Multiply(inputs[i], y, batch, one);
                    return y;
                }).ToArray();
                var group = new ProductGroup(matrices);
                foreach (var pool in new[] { one, two, three })
                {
                    var outputs = matrices.Select(m => Enumerable.Repeat(float.NaN, batch * m.Rows).ToArray()).ToArray();
                    switch (matrices.Length)
                    {
                        case 2: group.Multiply(batch, pool, inputs[0], outputs[0], inputs[1], outputs[1]); break;
                        case 3: group.Multiply(batch, pool, inputs[0], outputs[0], inputs[1], outputs[1], inputs[2], outputs[2]); break;
                        default: group.Multiply(batch, pool, inputs[0], outputs[0], inputs[1], outputs[1], inputs[2], outputs[2], inputs[3], outputs[3]); break;
                    }
                    for (int i = 0; i < matrices.Length; i++)
                        Assert.True(expected[i].AsSpan().SequenceEqual(outputs[i]),
                            $"{format}, group of {matrices.Length}, batch {batch}, {pool.Threads} threads: matrix {i} [{matrices[i].Rows}×{matrices[i].Cols}] differs");
                }
            }
    }

    [Fact]
    public void A_group_refuses_the_wrong_number_of_products_and_too_small_inputs()
    {
        using var pool = new WorkerPool(1);
        var a = new Float32Matrix(8, 4, Random(32, 1), null);
        var b = new Float32Matrix(16, 4, Random(64, 2), null);
        var group = new ProductGroup(a, b);
        var x = new float[4];
        Assert.Throws<ArgumentException>(() => group.Multiply(1, pool, x, new float[8], x, new float[16], x, new float[8]));
        Assert.Throws<ArgumentException>(() => group.Multiply(1, pool, x, new float[8], x, new float[15]));
        Assert.Throws<ArgumentException>(() => new ProductGroup(a));
    }
}
