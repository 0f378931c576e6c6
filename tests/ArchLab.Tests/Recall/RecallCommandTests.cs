using ArchLab.Tests.TestSupport;

namespace ArchLab.Tests.Recall;

[Trait("Category", Category.Cli)]
public class RecallCommandTests
{
    [Fact]
    public void UnknownArchitectureIsAOneLineError()
    {
        var (exit, _, stderr) = ArchLabCli.Run("recall", "--archs", "lstm", "--out", Path.Combine(Path.GetTempPath(), "archlab-recall-never"));
        Assert.Equal(2, exit);
        Assert.Contains("unknown architecture 'lstm'", stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void TinyGridWritesCsvChartsAndReadme()
    {
        string dir = Directory.CreateTempSubdirectory("archlab-recall-").FullName;
        try
        {
            var (exit, stdout, stderr) = ArchLabCli.Run("recall", "--archs", "transformer", "hybrid", "--widths", "16", "--seq-lens", "16",
                "--kv-pairs", "2", "--vocab", "32", "--head-dim", "8", "--steps", "3", "--train-examples", "16", "--val-examples", "8", "--out", dir);
            Assert.True(exit == 0, stderr + stdout);
            var lines = File.ReadAllLines(Path.Combine(dir, "recall.csv"));
            Assert.StartsWith("# command: ./archlab recall --archs transformer hybrid", lines[0]);
            var header = lines[1].Split(',');
            var rows = lines.Skip(2).Select(l => l.Split(',')).ToList();
            Assert.Equal(["transformer", "hybrid"], rows.Select(r => r[Array.IndexOf(header, "arch")]));
            Assert.All(rows, r => Assert.Equal("16", r[Array.IndexOf(header, "scored")])); // 8 examples × 2 queries
            Assert.All(rows, r => Assert.True(long.Parse(r[Array.IndexOf(header, "state_bytes")]) > 0));
            Assert.True(File.Exists(Path.Combine(dir, "accuracy_vs_width.html")));
            Assert.True(File.Exists(Path.Combine(dir, "accuracy_vs_state_bytes.html")));
            Assert.Contains("| hybrid | 16 | 16 | 2 |", File.ReadAllText(Path.Combine(dir, "README.md")));
            Assert.True(File.Exists(Path.Combine(dir, "runs", "mqar-hybrid-w16-len16-kv2", "metrics.jsonl"))); // each model's trainer run

            // the same folder again: refused before any training, the results kept
            string before = File.ReadAllText(Path.Combine(dir, "recall.csv"));
            ArchLabCli.AssertCleanError(ArchLabCli.Run("recall", "--archs", "transformer", "--widths", "16", "--out", dir),
                "already holds recall results", exitCode: 2);
            Assert.Equal(before, File.ReadAllText(Path.Combine(dir, "recall.csv")));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void TheDefaultFolderIsANewOneUnderRunsNeverTheCommittedResults() =>
        Assert.Equal(Path.Combine("runs", "recall", "recall-20261205-013000"),
                     ArchLab.Cli.Commands.RecallCommand.DefaultFolder(new DateTime(2026, 12, 5, 1, 30, 0, DateTimeKind.Utc)));

    [Fact]
    public void CurriculumTrainsTheShortTaskFirstAndIsStated()
    {
        string dir = Directory.CreateTempSubdirectory("archlab-recall-").FullName;
        try
        {
            var (exit, stdout, stderr) = ArchLabCli.Run("recall", "--archs", "transformer", "--widths", "16", "--seq-lens", "32",
                "--kv-pairs", "4", "--vocab", "32", "--head-dim", "8", "--steps", "3", "--train-examples", "16", "--val-examples", "8",
                "--position-embedding", "--no-rope", "--curriculum-steps", "2", "--curriculum-seq-len", "16", "--curriculum-kv-pairs", "2", "--out", dir);
            Assert.True(exit == 0, stderr + stdout);
            Assert.Contains("curriculum (16 tokens, 2 pairs, 2 steps)", stdout);
            string readme = File.ReadAllText(Path.Combine(dir, "README.md"));
            Assert.Contains("curriculum: 2 steps at length 16 with 2 pairs", readme);
            Assert.Contains("rotary positions in attention off", readme);
            Assert.Contains("| transformer | 16 | 32 | 4 |", readme);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void CurriculumLongerThanTheGridIsAOneLineError()
    {
        var (exit, _, stderr) = ArchLabCli.Run("recall", "--archs", "transformer", "--seq-lens", "32", "--kv-pairs", "4",
            "--curriculum-steps", "5", "--curriculum-seq-len", "64", "--out", Path.Combine(Path.GetTempPath(), "archlab-recall-never"));
        Assert.Equal(2, exit);
        Assert.Contains("curriculum length 64 is longer", stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void AnEmptyGridIsReportedAsSuchAlsoWithACurriculum()
    {
        var e = Assert.Throws<ArgumentException>(() => ArchLab.Recall.RecallStudy.Validate(
            new ArchLab.Recall.RecallStudyOptions { SeqLens = [], CurriculumSteps = 5 }));
        Assert.Contains("the grid is empty", e.Message);
    }
}
