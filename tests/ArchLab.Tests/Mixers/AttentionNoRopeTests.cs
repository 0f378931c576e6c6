using ArchLab.Mixers;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Tests.Mixers;

public class AttentionNoRopeTests
{
    /// <summary>Without rotary (or any) positions, causal attention at the last token sees a bag of the earlier tokens: shuffling
    /// them leaves its output unchanged. With rotary positions it does not. Checks that NoRope really turns rotation off.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void WithoutRopeTheLastOutputIgnoresTheOrderOfEarlierTokens(bool noRope)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(3);
        var config = new ModelConfig { Dim = 32, Heads = 2, Layers = 1, NoRope = noRope }.Validate();
        using var attention = new Attention(config, 0.02);
        var x = randn(1, 6, 32, dtype: ScalarType.Float64);
        attention.to(ScalarType.Float64);
        var shuffled = cat([x.narrow(1, 0, 5).index_select(1, tensor(new long[] { 3, 0, 4, 1, 2 })), x.narrow(1, 5, 1)], 1);
        var last = attention.Forward(x).Output.select(1, 5);
        var lastShuffled = attention.Forward(shuffled).Output.select(1, 5);
        double diff = (last - lastShuffled).abs().max().item<double>();
        if (noRope) Assert.True(diff < 1e-12, $"order changed the output by {diff}");
        else Assert.True(diff > 1e-6, "with rotary positions the order must matter");
    }

    [Fact]
    public void NoRopeRoundTripsThroughJsonAndIsLeftOutWhenOff()
    {
        var on = new ModelConfig { NoRope = true }.Validate();
        Assert.True(ModelConfig.FromJson(on.ToJson(), "test").NoRope);
        Assert.DoesNotContain("rope", new ModelConfig().Validate().ToJson().Replace("rope_theta", ""));
    }
}
