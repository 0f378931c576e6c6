using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Runtime;

/// <summary>bf16 autocast's linear forms, SwiGLU's bf16 hidden layer, the complex form of the rotary embedding and the
/// allocator settings, each against the plain float32 computation.</summary>
public class AutocastTests
{
    [Fact]
    public void LinearKeepingBf16StaysBf16OnlyInsideAutocast()
    {
        manual_seed(3);
        using var x = randn(4, 32);
        using var w = randn(16, 32) / 6;
        using var exact = nn.functional.linear(x, w);
        using (var plain = Autocast.LinearKeepingBf16(x, w))
        {
            Assert.Equal(ScalarType.Float32, plain.dtype);
            Assert.True(plain.allclose(exact));
        }
        using (Autocast.Bf16())
        {
            using var kept = Autocast.LinearKeepingBf16(x, w);
            Assert.Equal(ScalarType.BFloat16, kept.dtype);
            using var back = Autocast.Linear(kept, w.narrow(1, 0, 16)); // a bf16 input: only the weight is cast
            Assert.Equal(ScalarType.Float32, back.dtype);
            using var rounded = Autocast.Linear(x, w);
            Assert.Equal(ScalarType.Float32, rounded.dtype);
            Assert.False(rounded.allclose(exact, rtol: 0, atol: 0));      // the matmul really ran in bf16
            Assert.True(rounded.allclose(exact, rtol: 0.02, atol: 0.05));
            Assert.True(kept.to(ScalarType.Float32).allclose(exact, rtol: 0.02, atol: 0.05));
        }
    }

    [Fact]
    public void SwiGluUnderBf16IsCloseToFloat32AndTrainsEveryWeight()
    {
        manual_seed(5);
        using var mlp = new SwiGluMlp(32, 64, 0.02);
        using var x = randn(2, 8, 32);
        using var exact = mlp.call(x);
        Tensor y;
        using (Autocast.Bf16()) y = mlp.call(x);
        Assert.Equal(ScalarType.Float32, y.dtype);
        double scale = exact.abs().max().item<float>();
        Assert.InRange((y - exact).abs().max().item<float>() / scale, 1e-6, 0.03);
        y.sum().backward();
        foreach (var p in mlp.parameters())
        {
            Assert.NotNull(p.grad);
            Assert.Equal(ScalarType.Float32, p.grad!.dtype);
            Assert.True(p.grad.abs().sum().item<float>() > 0);
        }
        y.Dispose();
    }

    [Fact]
    public void Bf16CausalAttentionIsCloseToFlashAttentionAndExactOutsideAutocast()
    {
        manual_seed(7);
        using var q = randn(2, 3, 40, 16);
        using var k = randn(2, 3, 40, 16);
        using var v = randn(2, 3, 40, 16);
        using var flash = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        using (var plain = Autocast.CausalAttention(q, k, v)) Assert.True(plain.allclose(flash, rtol: 0, atol: 0));
        using (Autocast.Bf16())
        {
            using var low = Autocast.CausalAttention(q, k, v);
            Assert.Equal(ScalarType.BFloat16, low.dtype);
            double error = (low.to(ScalarType.Float32) - flash).abs().max().item<float>();
            Assert.InRange(error, 1e-5, 0.05);     // bf16 rounding, and nothing more (values are O(1))
            using var first = low.select(2, 0).to(ScalarType.Float32);   // token 0 sees only itself: its own value
            Assert.True(first.allclose(v.select(2, 0), rtol: 0.01, atol: 0.02));
        }
    }

    [Theory]
    [InlineData(16)]
    [InlineData(6)]
    public void ComplexRotaryMatchesTheRealFormInValueAndGradient(int rotaryDim)
    {
        manual_seed(9);
        var rope = new RotaryEmbedding(16, 10000, rotaryDim);
        using var x = randn(2, 7, 3, 16, requires_grad: true);
        using var y = rope.Apply(x, 4);                                   // float32: the complex form
        using var upstream = randn(2, 7, 3, 16);
        (y * upstream).sum().backward();
        using var grad = x.grad!.clone();
        using var x64 = x.detach().to(ScalarType.Float64).requires_grad_(true);
        using var rotated64 = RealForm(x64, rotaryDim, 4);
        (rotated64 * upstream.to(ScalarType.Float64)).sum().backward();
        Assert.True(y.to(ScalarType.Float64).allclose(rotated64, rtol: 1e-6, atol: 1e-6));
        Assert.True(grad.to(ScalarType.Float64).allclose(x64.grad!, rtol: 1e-6, atol: 1e-6));
    }

    /// <summary>Meta's pairs rotated with real arithmetic: (a, b) → (a·cos − b·sin, a·sin + b·cos).</summary>
    static Tensor RealForm(Tensor x, int rotaryDim, long start)
    {
        int half = rotaryDim / 2;
        long t = x.shape[1];
        var inverse = tensor(Enumerable.Range(0, half).Select(i => 1 / Math.Pow(10000, 2.0 * i / rotaryDim)).ToArray());
        var angles = outer(arange(start, start + t, 1, ScalarType.Float64), inverse).view(1, t, 1, half);
        var turning = x.narrow(-1, 0, rotaryDim).reshape(x.shape[0], t, x.shape[2], half, 2);
        var a = turning.select(-1, 0);
        var b = turning.select(-1, 1);
        var rotated = stack([a * angles.cos() - b * angles.sin(), a * angles.sin() + b * angles.cos()], -1)
            .view(x.shape[0], t, x.shape[2], rotaryDim);
        return rotaryDim < x.shape[3] ? cat([rotated, x.narrow(-1, rotaryDim, x.shape[3] - rotaryDim)], -1) : rotated;
    }

    [Fact]
    public void TheAllocatorSettingsAreAppliedOnLinux()
    {
        Assert.Equal(OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("ARCHLAB_DEFAULT_MALLOC") != "1",
                     NativeAllocator.Applied);
    }
}
