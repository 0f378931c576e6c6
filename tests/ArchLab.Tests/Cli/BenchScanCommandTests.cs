using ArchLab.Tests.TestSupport;

namespace ArchLab.Tests.Cli;

/// <summary><c>archlab bench scan</c>: a tiny run writes its CSV (command comment, one row per op and length, both backends
/// timed); bad choices end with a one-line error.</summary>
[Trait("Category", Category.Cli)]
public class BenchScanCommandTests
{
    [Fact]
    public void TinyRunWritesBothOpsToCsv()
    {
        string csv = Path.Combine(Path.GetTempPath(), $"bench-scan-{Guid.NewGuid():N}.csv");
        try
        {
            var (exit, stdout, stderr) = ArchLabCli.Run("bench", "scan", "--lengths", "8", "--batch-size", "1", "--channels", "12",
                                                        "--state", "4", "--repetitions", "1", "--threads", "1", "--csv", csv);
            Assert.True(exit == 0, stderr);
            Assert.Contains("| selective | 8 |", stdout);
            var lines = File.ReadAllLines(csv);
            Assert.StartsWith("# command: ./archlab bench scan --lengths 8", lines[0]);
            var rows = lines.Where(l => !l.StartsWith('#')).Skip(1).Select(l => l.Split(',')).ToList();
            Assert.Equal(["selective", "wkv"], rows.Select(r => r[0]));
            Assert.All(rows, r => Assert.True(double.Parse(r[2], System.Globalization.CultureInfo.InvariantCulture) > 0, "reference forward time"));
        }
        finally { File.Delete(csv); }
    }

    [Fact]
    public void AnExistingCsvIsNeverOverwrittenUnlessAsked()
    {
        string csv = Path.Combine(Path.GetTempPath(), $"bench-scan-{Guid.NewGuid():N}.csv");
        try
        {
            File.WriteAllText(csv, "committed results\n");
            var (exit, _, stderr) = ArchLabCli.Run("bench", "scan", "--lengths", "8", "--batch-size", "1", "--channels", "4",
                                                   "--state", "2", "--repetitions", "1", "--threads", "1", "--csv", csv);
            Assert.NotEqual(0, exit);
            Assert.Contains("exists", stderr);
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal("committed results\n", File.ReadAllText(csv));

            (exit, _, stderr) = ArchLabCli.Run("bench", "scan", "--op", "wkv", "--lengths", "8", "--batch-size", "1", "--channels", "4",
                                               "--repetitions", "1", "--threads", "1", "--csv", csv, "--overwrite");
            Assert.True(exit == 0, stderr);
            Assert.StartsWith("# command:", File.ReadAllText(csv));
        }
        finally { File.Delete(csv); }
    }

    [Fact]
    public void TheDefaultCsvIsANewFileOutsideTheCommittedResults()
    {
        string path = ArchLab.Cli.Commands.BenchCommand.DefaultScanCsv(new DateTime(2026, 12, 4, 22, 50, 1, DateTimeKind.Utc));
        Assert.Equal(Path.Combine("runs", "bench-scan", "scan-20261204-225001.csv"), path);
        Assert.DoesNotContain("experiments", path);
    }

    [Theory]
    [InlineData("--op", "mamba2", "unknown --op 'mamba2'")]
    [InlineData("--repetitions", "0", "must be positive")]
    public void BadChoiceIsOneLine(string option, string value, string expected)
    {
        var (exit, _, stderr) = ArchLabCli.Run("bench", "scan", option, value);
        Assert.NotEqual(0, exit);
        Assert.Contains(expected, stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

}
