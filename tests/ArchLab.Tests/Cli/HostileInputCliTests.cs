using ArchLab.Checkpoints;
using ArchLab.Models;
using ArchLab.Tests.TestSupport;
using static TorchSharp.torch;

namespace ArchLab.Tests.Cli;

/// <summary>One small byte-level run, trained once for the tests of <see cref="HostileInputCliTests"/>.</summary>
[Trait("Category", Category.Cli)]
public sealed class TinyRunFixture : IDisposable
{
    public TinyCorpus Corpus { get; } = new(files: 6);
    public string Run { get; }

    public TinyRunFixture()
    {
        Run = Corpus.NewRunDir();
        var trained = ArchLabCli.Run("train", "--data", Corpus.Dir, "--out", Run, "--dim", "32", "--layers", "1", "--heads", "2",
                                     "--seq-len", "16", "--batch-size", "2", "--steps", "2", "--eval-batches", "1",
                                     "--sample-tokens", "0", "--threads", "1");
        Assert.True(trained.ExitCode == 0, trained.Stderr);
    }

    public void Dispose()
    {
        Directory.Delete(Run, recursive: true);
        Corpus.Dispose();
    }
}

/// <summary>Issue 15 F4, F5, F11–F14 and eval --split through the real CLI: one line on stderr naming the field, file or
/// argument, a non-zero exit, and no stack trace or C++ frames.</summary>
[Trait("Category", Category.Cli)]
public sealed class HostileInputCliTests(TinyRunFixture fixture) : IClassFixture<TinyRunFixture>, IDisposable
{
    readonly string scratch = Directory.CreateTempSubdirectory("archlab-hostile-").FullName;

    public void Dispose() => Directory.Delete(scratch, recursive: true);

    string Write(string name, string text)
    {
        string path = Path.Combine(scratch, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void AnOptionTheCommandLacksIsNamedAsUnknown() =>
        ArchLabCli.AssertCleanError(ArchLabCli.Run("eval", "--model", fixture.Run, "--threads", "1"), "unknown option '--threads'");

    [Fact]
    public void NegativeThreadsAreRefused() =>
        ArchLabCli.AssertCleanError(ArchLabCli.Run("train", "--threads", "-1", "--data", fixture.Corpus.Dir, "--out", Path.Combine(scratch, "r")), "--threads");

    [Fact]
    public void AFolderGivenAsConfigOrInputIsNamed()
    {
        ArchLabCli.AssertCleanError(ArchLabCli.Run("train", "--config", scratch, "--data", fixture.Corpus.Dir, "--out", Path.Combine(scratch, "r")), "is a folder");
        ArchLabCli.AssertCleanError(ArchLabCli.Run("logits", "--model", ModelPath(), "--input", scratch, "--out", Path.Combine(scratch, "l.safetensors")), "is a folder");
    }

    string ModelPath() => ArchLab.Training.TrainingCheckpoint.Latest(fixture.Run)!;

    [Fact]
    public void LogitsOfEmptyInputIdsIsRefused()
    {
        string input = Path.Combine(scratch, "io.safetensors");
        Safetensors.Write(input, new Dictionary<string, Tensor> { ["input_ids"] = zeros([1, 0], ScalarType.Int64) });
        ArchLabCli.AssertCleanError(ArchLabCli.Run("logits", "--model", ModelPath(), "--input", input, "--out", Path.Combine(scratch, "l.safetensors")),
                         "'input_ids' has shape [1, 0]");
    }

    [Fact]
    public void EvalBatchSizeZeroIsOneLine() =>
        ArchLabCli.AssertCleanError(ArchLabCli.Run("eval", "--model", fixture.Run, "--batch-size", "0"), "--batch-size must be at least 1");

    [Fact]
    public void InvalidJsonIsNotEchoed()
    {
        string config = Write("bad.json", "secret-first-line of some other file\n{}");
        var result = ArchLabCli.Run("train", "--config", config, "--data", fixture.Corpus.Dir, "--out", Path.Combine(scratch, "r"));
        ArchLabCli.AssertCleanError(result, "not valid JSON (line 1");
        Assert.DoesNotContain("secret", result.Stderr);
    }

    [Theory]
    [InlineData("""{"arch": null}""", "'arch' must be a mixer name")]
    [InlineData("[]", "invalid model config")]
    [InlineData("null", "empty model config")]
    [InlineData("""{"vocab_size": 1073741824}""", "'vocab_size' = 1073741824 is above the limit")]
    [InlineData("""{"dim": 65536, "heads": 4}""", "'dim' = 65536 makes the model too large")]
    public void BadModelConfigsAreNamed(string json, string expected) =>
        ArchLabCli.AssertCleanError(ArchLabCli.Run("train", "--config", Write("c.json", json), "--data", fixture.Corpus.Dir, "--out", Path.Combine(scratch, "r")), expected);

    [Fact]
    public void ATokenizerLargerThanTheModelsVocabularyIsRefused()
    {
        ArchLabCli.AssertCleanError(ArchLabCli.Run("eval", "--model", fixture.Run, "--tokenizer", "cl100k"), "has 100,277 ids but the model's vocabulary has 256");
        ArchLabCli.AssertCleanError(ArchLabCli.Run("generate", "--model", fixture.Run, "--tokenizer", "cl100k", "--prompt", "the"), "has 100,277 ids");

        string small = Path.Combine(scratch, "vocab32");
        using (var model = new LanguageModel(new ModelConfig { VocabSize = 32, Dim = 16, Layers = 1, Heads = 2 }))
            ModelCheckpoint.Save(small, model);
        ArchLabCli.AssertCleanError(ArchLabCli.Run("generate", "--model", small, "--prompt", "the", "--max-tokens", "2"), "the model's vocabulary has 32");
    }

    [Fact]
    public void EvalScoresTheSplitItIsAskedFor()
    {
        string file = Path.Combine(fixture.Corpus.Dir, "doc00.txt");
        long Tokens(string split)
        {
            var result = ArchLabCli.Run("eval", "--model", fixture.Run, "--data", file, "--split", split, "--batch-size", "1");
            Assert.True(result.ExitCode == 0, result.Stderr);
            string line = result.Stdout.Split('\n').Single(l => l.StartsWith(split + " ("));
            return long.Parse(line.Split(", ")[1].Split(' ')[0].Replace(",", ""));
        }
        long all = Tokens("all"), train = Tokens("train"), validation = Tokens("validation");
        long bytes = new FileInfo(file).Length;
        Assert.True(validation < train && train < all, $"validation {validation}, train {train}, all {all}");
        Assert.InRange(all, bytes - 2 * 16, bytes); // every whole 16-token window of the file
        ArchLabCli.AssertCleanError(ArchLabCli.Run("eval", "--model", fixture.Run, "--data", file, "--split", "test"), "'test' not recognized");
    }
}
