using System.Runtime.Intrinsics;
using ArchLab.Engine;

namespace ArchLab.Tests.Engine;

/// <summary>The engine's single-precision e^x (<see cref="Simd.Exp(Vector512{float})"/> and its 256-bit twin) against
/// double-precision <see cref="Math.Exp"/>, on a dense grid of its whole range, random values, and the edges.</summary>
public class SimdExpTests
{
    const double Bound = 2.5e-7; // the relative error the doc comment states

    static float[] Exp512(float[] x)
    {
        var result = new float[x.Length];
        for (int i = 0; i < x.Length; i += 16) Simd.Exp(Vector512.Create(x.AsSpan(i, 16))).CopyTo(result.AsSpan(i, 16));
        return result;
    }

    static float[] Exp256(float[] x)
    {
        var result = new float[x.Length];
        for (int i = 0; i < x.Length; i += 8) Simd.Exp(Vector256.Create(x.AsSpan(i, 8))).CopyTo(result.AsSpan(i, 8));
        return result;
    }

    /// <summary>A grid from −87 to 88.7 (every 1/64: each k and many r per k) and 100,000 random values in it.</summary>
    static float[] Inputs()
    {
        var values = new List<float>();
        for (int i = -87 * 64; i <= (int)(88.7 * 64); i++) values.Add(i / 64f);
        var random = new Random(7);
        for (int i = 0; i < 100_000; i++) values.Add((float)(random.NextDouble() * (88.7 + 87) - 87));
        values.AddRange([0f, -0f, 1e-30f, -1e-30f, 0.34657359f, -0.34657359f, 88.7f, -87f]);
        while (values.Count % 16 != 0) values.Add(0f);
        return values.ToArray();
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    public void Matches_math_exp_within_the_stated_relative_error(int width)
    {
        var x = Inputs();
        var y = width == 512 ? Exp512(x) : Exp256(x);
        double worst = 0;
        int worstAt = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double exact = Math.Exp(x[i]);
            double relative = Math.Abs(y[i] - exact) / exact;
            if (relative > worst) (worst, worstAt) = (relative, i);
        }
        Assert.True(worst <= Bound, $"e^{x[worstAt]}: {y[worstAt]} against {Math.Exp(x[worstAt])}, relative error {worst:E2}");
        Assert.Equal(1f, y[Array.IndexOf(x, 0f)]);
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    public void Underflows_to_zero_overflows_to_infinity_and_keeps_nan(int width)
    {
        float[] x = [-88f, -100f, -1e38f, float.NegativeInfinity, 88.8f, 100f, float.PositiveInfinity, float.NaN];
        x = [.. x, .. x];
        var y = width == 512 ? Exp512(x) : Exp256(x);
        for (int i = 0; i < 4; i++) Assert.Equal(0f, y[i]);
        for (int i = 4; i < 7; i++) Assert.Equal(float.PositiveInfinity, y[i]);
        Assert.True(float.IsNaN(y[7]));
        // Just inside the range, the largest finite results are still finite and close.
        var edge = width == 512 ? Exp512([.. Enumerable.Repeat(88.72f, 16)]) : Exp256([.. Enumerable.Repeat(88.72f, 8)]);
        Assert.True(float.IsFinite(edge[0]) && Math.Abs(edge[0] / Math.Exp(88.72f) - 1) < Bound, $"e^88.72 = {edge[0]}");
    }
}
