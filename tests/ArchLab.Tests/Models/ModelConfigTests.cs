using ArchLab.Models;

namespace ArchLab.Tests.Models;

public class ModelConfigTests
{
    [Fact]
    public void JsonRoundTrips()
    {
        var config = new ModelConfig { Dim = 96, Heads = 6, KvHeads = 2, LayerPattern = ["transformer", "attention"], Layers = 2 };
        Assert.Equal(config.ToJson(), ModelConfig.FromJson(config.ToJson()).ToJson());
        Assert.Contains("\"kv_heads\": 2", config.ToJson());
    }

    [Fact]
    public void UnknownFieldIsNamed()
    {
        var e = Assert.Throws<ConfigException>(() => ModelConfig.FromJson("""{"dim": 64, "n_heads": 4}""", "my.json"));
        Assert.Contains("n_heads", e.Message);
        Assert.Contains("my.json", e.Message);
    }

    [Theory]
    [InlineData("""{"dim": -64}""", "dim")]
    [InlineData("""{"layers": 0}""", "layers")]
    [InlineData("""{"vocab_size": -1}""", "vocab_size")]
    [InlineData("""{"dim": 100, "heads": 3}""", "divisible")]
    [InlineData("""{"heads": 4, "kv_heads": 3}""", "kv_heads")]
    [InlineData("""{"arch": "lstm"}""", "lstm")]
    [InlineData("""{"dim": "wide"}""", "dim")]
    public void BadValuesAreNamed(string json, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => ModelConfig.FromJson(json));
        Assert.Contains(expected, e.Message);
    }
}
