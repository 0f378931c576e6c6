using ArchLab.Checkpoints;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using TorchSharp;

namespace ArchLab.Tests.Cli;

/// <summary>generate, bench decode and bench quant on the lean engine through the command line.</summary>
[Trait("Category", Category.Cli)]
public class EngineCliTests
{
    [Theory]
    [InlineData("--engine", "jax", "unknown engine 'jax'")]
    [InlineData("--weights", "int4", "unknown weight format 'int4'")]
    [InlineData("--threads", "0", "--threads must be between 1 and 256")]
    [InlineData("--batch", "0", "--batch must be ≥ 1")]
    public void BenchDecodeRejectsBadEngineSettings(string option, string value, string expected) =>
        ArchLabCli.AssertCleanError(ArchLabCli.Run("bench", "decode", option, value), expected, exitCode: 2);

    [Fact]
    public void BenchDecodeWritesOneRowPerCaseWithTheCpuFeatures()
    {
        string csv = Path.Combine(Path.GetTempPath(), $"archlab-decode-{Guid.NewGuid():N}.csv");
        try
        {
            var (code, stdout, stderr) = ArchLabCli.Run("bench", "decode", "--arch", "transformer", "mamba", "--dim", "16", "--layers", "1",
                "--mamba-layers", "1", "--heads", "2", "--vocab", "32", "--positions", "4", "20", "--engine", "lean", "torch", "--weights", "fp32", "int8",
                "--threads", "1", "2", "--rounds", "1", "--steps", "1", "--warmup", "0", "--csv", csv);
            Assert.True(code == 0, stderr);
            var lines = File.ReadAllLines(csv);
            Assert.Contains(lines, l => l.StartsWith("# cpu: ") && l.Contains("engine kernels"));
            var header = lines.First(l => !l.StartsWith('#')).Split(',');
            foreach (var column in new[] { "engine", "weights", "threads", "arch", "dim", "layers", "vocab", "batch", "position", "tokens_per_s",
                                           "weight_bytes_per_token", "copy_GBps", "fraction_of_bandwidth" })
                Assert.Contains(column, header);
            // 2 architectures × 2 positions × (lean: 2 formats × 2 thread counts + torch: 2 thread counts)
            Assert.Equal(2 * 2 * (4 + 2), lines.Count(l => !l.StartsWith('#')) - 1);
            Assert.Contains("cpu: ", stdout);
        }
        finally { File.Delete(csv); }
    }

    [Fact]
    public void GenerateGivesTheSameGreedyTextOnBothEnginesAndRefusesAnOversizedTokenizer()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"archlab-gen-{Guid.NewGuid():N}");
        try
        {
            torch.manual_seed(4);
            using (var model = new LanguageModel(new ModelConfig { Arch = "mamba", VocabSize = 256, Dim = 32, Layers = 2 }))
            {
                using (torch.no_grad()) model.head!.weight.mul_(30); // a sharp head: greedy decoding without near ties
                ModelCheckpoint.Save(dir, model);
            }
            string[] common = ["generate", "--model", dir, "--prompt", "The ", "--temperature", "0", "--max-tokens", "40"];
            var lean = ArchLabCli.Run([.. common, "--engine", "lean"]);
            var torchRun = ArchLabCli.Run([.. common, "--engine", "torch"]);
            var int8 = ArchLabCli.Run([.. common, "--engine", "lean", "--weights", "int8", "--threads", "2"]);
            Assert.True(lean.ExitCode == 0, lean.Stderr);
            Assert.True(int8.ExitCode == 0, int8.Stderr);
            Assert.Equal(torchRun.Stdout, lean.Stdout);
            Assert.StartsWith("The ", lean.Stdout);
            // 40 new tokens: the first comes from the prefill's logits, then 39 steps, the first of them timed apart
            Assert.Contains("prefill 4 tokens in", lean.Stderr);
            Assert.Contains("38 steps × 1 row in", lean.Stderr);
            Assert.Contains("tokens/s (lean engine, fp32 weights, 1 thread)", lean.Stderr);
            Assert.Contains("tokens/s (lean engine, int8 weights, 2 threads)", int8.Stderr);
            Assert.Contains("tokens/s (TorchSharp step)", torchRun.Stderr);
            Assert.DoesNotContain("tokens/s", ArchLabCli.Run([.. common, "--quiet"]).Stderr);
            ArchLabCli.AssertCleanError(ArchLabCli.Run([.. common, "--engine", "tpu"]), "unknown engine 'tpu'", exitCode: 2);
            var past = ArchLabCli.Run("generate", "--model", dir, "--prompt", "a", "--temperature", "0", "--max-tokens", "300");
            Assert.Equal(0, past.ExitCode);
            Assert.Contains("trained on 256-token contexts", past.Stderr);
            ArchLabCli.AssertCleanError(ArchLabCli.Run([.. common, "--tokenizer", "cl100k"]), "the model's vocabulary has 256", exitCode: 2);
            // bench decode times a saved model too
            var bench = ArchLabCli.Run("bench", "decode", "--model", dir, "--positions", "8", "--rounds", "1", "--steps", "1", "--warmup", "0", "--engine", "lean", "torch");
            Assert.True(bench.ExitCode == 0, bench.Stderr);
            Assert.Contains("mamba lean fp32 1t b1", bench.Stdout);
            Assert.Contains("mamba torch 1t b1", bench.Stdout);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }
}
