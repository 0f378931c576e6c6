using ArchLab.Scaling;

namespace ArchLab.Tests.Scaling;

public class RunsFileTests
{
    static RunResult Result(string id) => new() { Sweep = "t", Id = id, Arch = "transformer", FinalValLoss = 2.5, LossCurve = [new(1, 10, 3.0)] };

    [Fact]
    public void ConcurrentAppendsKeepEveryLineWholeAndNoDuplicates()
    {
        string dir = Directory.CreateTempSubdirectory("archlab-runsfile-").FullName;
        try
        {
            string path = Path.Combine(dir, "runs.jsonl");
            // 8 writers, each appending runs 0..39 (so every run is offered 8 times)
            Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
            {
                var file = new RunsFile(path);
                for (int i = 0; i < 40; i++) file.Append(Result($"run{i}"));
            });
            var lines = File.ReadAllLines(path);
            Assert.Equal(40, lines.Length);
            Assert.Equal(40, lines.Select(l => RunResult.FromJsonLine(l).Id).Distinct().Count());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ATornLastLineIsIgnoredAndCutBeforeTheNextAppend()
    {
        string dir = Directory.CreateTempSubdirectory("archlab-runsfile-").FullName;
        try
        {
            string path = Path.Combine(dir, "runs.jsonl");
            var file = new RunsFile(path);
            Assert.True(file.Append(Result("a")));
            File.AppendAllText(path, Result("b").ToJsonLine()[..30]); // a writer killed mid-line
            Assert.Equal(["a"], file.Read().Select(r => r.Id));
            Assert.True(file.Append(Result("c")));
            Assert.False(file.Append(Result("a")));
            Assert.Equal(["a", "c"], File.ReadAllLines(path).Select(l => RunResult.FromJsonLine(l).Id));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void AMalformedLineBeforeTheLastIsAnErrorNamingItNotASkippedRun()
    {
        string dir = Directory.CreateTempSubdirectory("archlab-runsfile-").FullName;
        try
        {
            string path = Path.Combine(dir, "runs.jsonl");
            var file = new RunsFile(path);
            file.Append(Result("a"));
            File.AppendAllText(path, Result("b").ToJsonLine()[..30] + "\n"); // a damaged record, then more runs
            File.AppendAllText(path, Result("c").ToJsonLine() + "\n");
            var e = Assert.Throws<InvalidDataException>(() => file.Read());
            Assert.Contains("line 2 is not a run record", e.Message);
            string before = File.ReadAllText(path);
            Assert.Throws<InvalidDataException>(() => file.Append(Result("d")));
            Assert.Equal(before, File.ReadAllText(path)); // nothing written beside a damaged file

            File.WriteAllText(path, Result("a").ToJsonLine() + "\n{}\n"); // JSON, but no run
            Assert.Contains("line 2", Assert.Throws<InvalidDataException>(() => file.Read()).Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void AWholeLastRecordWithoutItsNewlineIsKept()
    {
        string dir = Directory.CreateTempSubdirectory("archlab-runsfile-").FullName;
        try
        {
            string path = Path.Combine(dir, "runs.jsonl");
            File.WriteAllText(path, Result("a").ToJsonLine() + "\n" + Result("b").ToJsonLine()); // an edited file
            var file = new RunsFile(path);
            Assert.Equal(["a", "b"], file.Read().Select(r => r.Id));
            Assert.True(file.Append(Result("c")));
            Assert.False(file.Append(Result("b")));
            Assert.Equal(["a", "b", "c"], File.ReadAllLines(path).Select(l => RunResult.FromJsonLine(l).Id));
        }
        finally { Directory.Delete(dir, true); }
    }
}
