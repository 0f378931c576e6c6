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
}
