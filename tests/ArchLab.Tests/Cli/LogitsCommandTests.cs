using ArchLab.Checkpoints;
using ArchLab.Tests.TestSupport;

namespace ArchLab.Tests.Cli;

/// <summary>`archlab logits` on Meta's LLaMA layout reproduces the official logits in every mode.</summary>
[Trait("Category", Category.Cli)]
public class LogitsCommandTests
{
    static readonly GoldenCase Case = new("llama", "case1_d64_h4_mha");

    [Theory]
    [InlineData("parallel", "logits_parallel", "float64", 1e-9)]
    [InlineData("recurrent", "logits_recurrent", "float64", 1e-9)]
    [InlineData("prefill_step", "logits_prefill_step", "float64", 1e-9)]
    [InlineData("chunked", "logits_chunked_kvcache", "float64", 1e-9)]
    [InlineData("recurrent", "logits_recurrent_f32", "float32", 1e-5)]
    [InlineData("chunked", "logits_chunked_kvcache_f32", "float32", 1e-5)]
    public void MatchesGolden(string mode, string key, string dtype, double tolerance)
    {
        string output = Path.Combine(Path.GetTempPath(), $"archlab-logits-{Guid.NewGuid():N}.safetensors");
        var result = ArchLabCli.Run("logits", "--model", Case.Dir, "--input", Path.Combine(Case.Dir, "io.safetensors"),
                                    "--mode", mode, "--dtype", dtype, "--out", output);
        Assert.True(result.ExitCode == 0, result.Stderr);
        using var io = Case.ReadIo();
        using var logits = Safetensors.Read(output);
        TensorAssert.Close(io[key], logits["logits"], tolerance, key);
        File.Delete(output);
    }

    /// <summary>The other architectures' official layouts through the same command (auto-detected format).</summary>
    [Theory]
    [InlineData("mamba", "case1_d48_state8_expand2_tied", "prefill_step", "logits_prefill_step", "float32", 1e-5)]
    [InlineData("rwkv4", "case1_d32_L2_ffn128", "recurrent", "logits_recurrent_f64", "float64", 1e-9)]
    [InlineData("retnet", "case1_d48_h3_v96_swish", "chunked", "logits_chunkwise", "float64", 1e-9)]
    public void OtherArchitecturesMatchGolden(string arch, string caseName, string mode, string key, string dtype, double tolerance)
    {
        var golden = new GoldenCase(arch, caseName);
        string output = Path.Combine(Path.GetTempPath(), $"archlab-logits-{Guid.NewGuid():N}.safetensors");
        var result = ArchLabCli.Run("logits", "--model", golden.Dir, "--input", Path.Combine(golden.Dir, "io.safetensors"),
                                    "--mode", mode, "--dtype", dtype, "--out", output);
        Assert.True(result.ExitCode == 0, result.Stderr);
        using var io = golden.ReadIo();
        using var logits = Safetensors.Read(output);
        TensorAssert.Close(io[key], logits["logits"], tolerance, $"{arch} {key}");
        File.Delete(output);
    }
}
