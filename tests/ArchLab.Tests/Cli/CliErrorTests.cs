using ArchLab.Tests.TestSupport;

namespace ArchLab.Tests.Cli;

/// <summary>Bad input ends with one line naming the problem on stderr, a non-zero exit, and no stack trace.</summary>
[Trait("Category", Category.Cli)]
public class CliErrorTests
{
    [Fact]
    public void NonNumericArgument() => ArchLabCli.AssertCleanError(ArchLabCli.Run("train", "--steps", "many"), "many");

    [Fact]
    public void UnknownOption() => ArchLabCli.AssertCleanError(ArchLabCli.Run("train", "--stepz", "3"), "--stepz");

    [Fact]
    public void NegativeModelSize()
    {
        using var corpus = new TinyCorpus(files: 3);
        ArchLabCli.AssertCleanError(ArchLabCli.Run("train", "--data", corpus.Dir, "--dim", "-8", "--out", corpus.NewRunDir()), "'dim' must be positive");
    }

    [Fact]
    public void ConfigWithUnknownField()
    {
        using var corpus = new TinyCorpus(files: 3);
        string config = Path.Combine(corpus.Dir, "..", Path.GetFileName(corpus.Dir) + "-config.json");
        File.WriteAllText(config, """{ "dim": 32, "heads": 2, "layers": 1, "dropout": 0.1 }""");
        ArchLabCli.AssertCleanError(ArchLabCli.Run("train", "--data", corpus.Dir, "--config", config, "--out", corpus.NewRunDir()), "dropout");
        File.Delete(config);
    }

    [Fact]
    public void EmptyCorpus()
    {
        string empty = Directory.CreateTempSubdirectory("archlab-empty-").FullName;
        File.WriteAllText(Path.Combine(empty, "blank.txt"), "   \n\n");
        ArchLabCli.AssertCleanError(ArchLabCli.Run("train", "--data", empty, "--out", empty + "-run"), empty);
        Directory.Delete(empty, recursive: true);
    }

    [Fact]
    public void MissingModelFolder() =>
        ArchLabCli.AssertCleanError(ArchLabCli.Run("logits", "--model", "/nonexistent/model", "--input", "x", "--out", "y"), "/nonexistent/model");

    [Fact]
    public void ResumeWithoutARun()
    {
        string dir = Directory.CreateTempSubdirectory("archlab-norun-").FullName;
        ArchLabCli.AssertCleanError(ArchLabCli.Run("train", "--resume", "--out", dir), "no run");
        Directory.Delete(dir);
    }

    [Theory]
    [InlineData("--temperature", "-1", "temperature")]
    [InlineData("--top-p", "0", "top-p")]
    [InlineData("--top-p", "1.5", "top-p")]
    public void BadSamplingArguments(string option, string value, string expected) =>
        ArchLabCli.AssertCleanError(ArchLabCli.Run("generate", "--model", "/nonexistent", "--prompt", "x", option, value), expected);

    [Fact]
    public void TruncatedCheckpointOnResumeAndOnLoad()
    {
        using var corpus = new TinyCorpus(files: 6);
        string run = corpus.NewRunDir();
        var trained = ArchLabCli.Run("train", "--data", corpus.Dir, "--out", run, "--dim", "32", "--layers", "1", "--heads", "2",
                                     "--seq-len", "16", "--batch-size", "2", "--steps", "3", "--eval-batches", "1", "--sample-tokens", "0");
        Assert.True(trained.ExitCode == 0, trained.Stderr);
        string weights = Path.Combine(run, "checkpoints", "step_000003", "model.safetensors");
        File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..^100]);

        ArchLabCli.AssertCleanError(ArchLabCli.Run("train", "--resume", "--out", run), "model.safetensors");
        ArchLabCli.AssertCleanError(ArchLabCli.Run("eval", "--model", run), "model.safetensors");
        Directory.Delete(run, recursive: true);
    }
}
