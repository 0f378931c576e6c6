using ArchLab.Mixers;
using static TorchSharp.torch;

namespace ArchLab.Tests.Mixers;

/// <summary>Both rotary layouts and partial rotary against the rotation written out one pair at a time.</summary>
public class RotaryEmbeddingTests
{
    /// <summary>out[a] = x[a]·cos − x[b]·sin, out[b] = x[b]·cos + x[a]·sin for each pair (a, b), angle (start+t)·θ^(−2i/d).</summary>
    static double[,,,] Expected(double[,,,] x, int rotaryDim, bool halves, long start, double theta)
    {
        var y = (double[,,,])x.Clone();
        int half = rotaryDim / 2;
        for (int t = 0; t < x.GetLength(1); t++)
            for (int h = 0; h < x.GetLength(2); h++)
                for (int i = 0; i < half; i++)
                {
                    float inverse = 1 / MathF.Pow((float)theta, 2f * i / rotaryDim);
                    float angle = (start + t) * inverse;
                    double c = MathF.Cos(angle), s = MathF.Sin(angle);
                    int a = halves ? i : 2 * i, b = halves ? i + half : 2 * i + 1;
                    y[0, t, h, a] = x[0, t, h, a] * c - x[0, t, h, b] * s;
                    y[0, t, h, b] = x[0, t, h, b] * c + x[0, t, h, a] * s;
                }
        return y;
    }

    [Theory]
    [InlineData(16, false, 0)]
    [InlineData(16, true, 5)]
    [InlineData(8, true, 3)]
    [InlineData(6, false, 0)]
    public void TurnsThePairsOfItsLayoutAndLeavesTheRestAlone(int rotaryDim, bool halves, long start)
    {
        manual_seed(11);
        using var x = randn(1, 5, 3, 16, dtype: ScalarType.Float64);
        var rope = new RotaryEmbedding(16, 10000, rotaryDim, halves);
        using var y = rope.Apply(x, start);
        var values = x.data<double>().ToArray();
        var input = new double[1, 5, 3, 16];
        Buffer.BlockCopy(values, 0, input, 0, values.Length * sizeof(double));
        var expected = Expected(input, rotaryDim, halves, start, 10000);
        var got = y.data<double>().ToArray();
        int k = 0;
        foreach (double e in expected) Assert.Equal(e, got[k++], 1e-6);
        if (rotaryDim < 16) Assert.True(y.narrow(-1, rotaryDim, 16 - rotaryDim).eq(x.narrow(-1, rotaryDim, 16 - rotaryDim)).all().item<bool>());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(18)]
    public void RotaryDimensionsMustBeEvenAndFitTheHead(int rotaryDim) =>
        Assert.Contains("rotary dimensions", Assert.Throws<ArgumentException>(() => new RotaryEmbedding(16, 10000, rotaryDim)).Message);
}
