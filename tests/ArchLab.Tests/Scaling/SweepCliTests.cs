using System.Diagnostics;
using System.Text.Json.Nodes;
using ArchLab.Scaling;
using ArchLab.Tests.TestSupport;

namespace ArchLab.Tests.Scaling;

/// <summary><c>archlab sweep run</c> with worker processes on a tiny corpus: results, resumption, no duplicates.</summary>
[Trait("Category", Category.Cli)]
public class SweepCliTests
{
    /// <summary>A spec of two tiny runs (two sizes, one token budget) on <paramref name="corpus"/>.</summary>
    public static string WriteSpec(string dir, TinyCorpus corpus, int steps = 30, string name = "tiny")
    {
        Directory.CreateDirectory(dir);
        string spec = Path.Combine(dir, "spec.json");
        File.WriteAllText(spec, $$"""
            { "name": "{{name}}", "architectures": ["transformer"],
              "sizes": [{ "dim": 16, "layers": 1 }, { "dim": 32, "layers": 1 }],
              "token_budgets": [{{steps * 4 * 32}}], "data": ["{{corpus.Dir}}"], "seq_len": 32, "batch_size": 4,
              "eval_batches": 2, "min_steps": 5, "curve_points": 5 }
            """);
        return spec;
    }

    [Fact]
    public void TwoWorkersRunEveryRunOnceAndARerunSkipsThem()
    {
        using var corpus = new TinyCorpus();
        string dir = corpus.NewRunDir();
        string spec = WriteSpec(dir, corpus);
        var (code, stdout, stderr) = ArchLabCli.Run("sweep", "run", spec, "--workers", "2");
        Assert.True(code == 0, stdout + stderr);
        var lines = File.ReadAllLines(Path.Combine(dir, "runs.jsonl"));
        Assert.Equal(2, lines.Length);
        foreach (var line in lines)
        {
            var r = RunResult.FromJsonLine(line);
            Assert.Equal(30, r.Train.Steps);
            Assert.Equal(30 * 128, r.Tokens);
            Assert.Equal(r.FlopsPerToken * (double)r.Tokens, r.Compute);
            Assert.True(r.NonEmbeddingParams > 0 && r.TotalParams > r.NonEmbeddingParams);
            Assert.True(r.LossCurve.Length >= 5 && r.LossCurve[^1].Step == 30);
            Assert.True(double.IsFinite(r.FinalValLoss) && r.FinalValLoss < Math.Log(256));
            Assert.True(r.WallSeconds > 0);
            Assert.Equal(ArchLab.Engine.SimdInfo.Machine(), r.FinishedOn); // which machine's clock WallSeconds is
        }
        (code, stdout, stderr) = ArchLabCli.Run("sweep", "run", spec, "--workers", "2");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("2 already in runs.jsonl, 0 to run", stdout);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(dir, "runs.jsonl")).Length);
    }

    [Fact]
    public void AKilledRunContinuesFromItsCheckpointAndOneRunHasOneWorker()
    {
        using var corpus = new TinyCorpus();
        string dir = corpus.NewRunDir();
        // Long enough that the run is still training while a second worker is started and refused (with 400 steps the
        // run often finished first on a loaded machine, and the kill found nothing to kill).
        const int steps = 3000;
        string spec = WriteSpec(dir, corpus, steps: steps);
        string id = "transformer-d32-l1-t" + SweepPlanner.Label(steps * 128);
        using (var worker = ArchLabCli.Start("sweep", "run-one", spec, "--run", id))
        {
            var clock = Stopwatch.StartNew();
            string latest = Path.Combine(dir, "runs", id, "checkpoints", "latest");
            while (!File.Exists(latest) && !Directory.Exists(latest) && !worker.HasExited && clock.Elapsed < TimeSpan.FromMinutes(3)) Thread.Sleep(100);
            if (worker.HasExited) Assert.Fail("the run ended before it could be killed: " + worker.StandardError.ReadToEnd());
            var (secondCode, _, secondError) = ArchLabCli.Run("sweep", "run-one", spec, "--run", id); // a second worker on the same run
            Assert.Equal(1, secondCode);
            Assert.Contains("being trained by another process", secondError);
            if (worker.HasExited) Assert.Fail("the run ended before it could be killed: " + worker.StandardError.ReadToEnd());
            worker.Kill(entireProcessTree: true);
            worker.WaitForExit();
        }
        Assert.False(File.Exists(Path.Combine(dir, "runs.jsonl")) && File.ReadAllText(Path.Combine(dir, "runs.jsonl")).Contains(id));
        var (code, stdout, stderr) = ArchLabCli.Run("sweep", "run-one", spec, "--run", id);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("resuming at step", stdout);
        var result = Assert.Single(File.ReadAllLines(Path.Combine(dir, "runs.jsonl")).Select(RunResult.FromJsonLine));
        Assert.Equal(id, result.Id);
        Assert.Equal(steps, result.LossCurve[^1].Step);
    }

    [Fact]
    public void BadArgumentsGiveOneLineErrors()
    {
        var (code, _, stderr) = ArchLabCli.Run("sweep", "run", "/nonexistent/spec.json");
        Assert.Equal(2, code);
        Assert.Contains("does not exist", stderr);
        using var corpus = new TinyCorpus(files: 4, sentencesPerFile: 5);
        string spec = WriteSpec(corpus.NewRunDir(), corpus);
        (code, _, stderr) = ArchLabCli.Run("sweep", "run-one", spec, "--run", "nope");
        Assert.Equal(2, code);
        Assert.Contains("'nope' is not a run", stderr);
        (code, _, stderr) = ArchLabCli.Run("sweep", "run", spec, "--workers", "0");
        Assert.Equal(2, code);
        Assert.Contains("--workers", stderr);
    }

    [Fact]
    public void SubmitDryRunPrintsAnArrayScriptWithOneTaskPerRun()
    {
        using var corpus = new TinyCorpus(files: 4, sentencesPerFile: 5);
        string spec = WriteSpec(corpus.NewRunDir(), corpus);
        var (code, stdout, stderr) = ArchLabCli.Run("sweep", "submit", spec, "--slurm", "--dry-run");
        Assert.True(code == 0, stderr);
        Assert.Contains("#SBATCH --array=0-1", stdout);
        Assert.Contains("transformer-d16-l1-t3.84e3", stdout);
        Assert.Contains("sweep run-one", stdout);
    }

    [Fact]
    public void SubmitRefusesASpecNameThatWouldRunCommands()
    {
        // issue 15 F15: this name used to put `touch pwned` on the second line of the printed script
        using var corpus = new TinyCorpus(files: 4, sentencesPerFile: 5);
        string spec = WriteSpec(corpus.NewRunDir(), corpus, name: "x\\ntouch${IFS}pwned\\n#");
        var (code, stdout, stderr) = ArchLabCli.Run("sweep", "submit", spec, "--slurm", "--dry-run");
        Assert.NotEqual(0, code);
        Assert.Contains("'name' must be", stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("touch", stdout);
    }

    [Fact]
    public void FitWritesFitsAndChartsForAnIsoFlopSweep()
    {
        // runs.jsonl made from a known law (no training): the fit command end to end, quickly
        string dir = Directory.CreateTempSubdirectory("archlab-fit-").FullName;
        try
        {
            var file = new RunsFile(Path.Combine(dir, "runs.jsonl"));
            var law = new ParametricLoss(1.5, 300, 300, 0.35, 0.3);
            var rng = new Random(3);
            foreach (double c in new[] { 1e10, 1e11, 1e12 })
                foreach (double n in Enumerable.Range(-3, 7).Select(i => law.Optimal(c, FlopsPerTokenCurve.Proportional(6)).N * Math.Pow(10, i / 3.0)))
                {
                    double d = c / (6 * n);
                    file.Append(new RunResult
                    {
                        Sweep = "synthetic", Id = $"transformer-{n}-{c}", Arch = "transformer", NonEmbeddingParams = (long)n, TotalParams = (long)n + 1000,
                        FlopsPerToken = (long)(6 * n), Tokens = (long)d, Compute = c, ComputeBudget = c,
                        FinalValLoss = law.Loss(n, d) * Math.Exp(0.002 * (rng.NextDouble() - 0.5)),
                    });
                }
            var (code, stdout, stderr) = ArchLabCli.Run("fit", dir, "--bootstrap", "30", "--parametric-bootstrap", "3", "--grid", "coarse");
            Assert.True(code == 0, stdout + stderr);
            var fits = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "fits.json")))!["fits"]![0]!;
            Assert.Equal("transformer", fits["arch"]!.GetValue<string>());
            double a2 = fits["approach2"]!["n_exponent"]!["value"]!.GetValue<double>();
            double trueA = law.ProportionalComputeNExponent;
            Assert.InRange(a2, trueA - 0.05, trueA + 0.05);
            foreach (var chart in new[] { "isoflop-transformer.html", "optimal-transformer.html", "frontier.html" })
                Assert.Contains("plotly", File.ReadAllText(Path.Combine(dir, chart)));
            Assert.Contains("tokens_per_param", File.ReadAllText(Path.Combine(dir, "fits.csv")));
            Assert.Contains("approach 3: L-BFGS start 243/243", stdout); // progress through the slow part
            Assert.Contains("every budget's best size has a smaller and a larger size beside it", stdout);
            string comparison = File.ReadAllText(Path.Combine(dir, "comparison.md"));
            Assert.Contains("Epoch AI refit approach 3 (0.513)", comparison);
            Assert.Contains("| transformer | ", comparison);
            Assert.Contains(comparison.Split('\n')[0], stdout); // printed as well

            // total parameters: their own files beside the non-embedding ones
            string nonEmbedding = File.ReadAllText(Path.Combine(dir, "fits.json"));
            (code, stdout, stderr) = ArchLabCli.Run("fit", dir, "--bootstrap", "30", "--parametric-bootstrap", "3", "--grid", "coarse", "--total-params");
            Assert.True(code == 0, stdout + stderr);
            Assert.Equal(nonEmbedding, File.ReadAllText(Path.Combine(dir, "fits.json")));
            var total = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "fits-total.json")))!["fits"]![0]!;
            Assert.Equal("total", total["parameters"]!.GetValue<string>());
            foreach (var name in new[] { "fits-total.csv", "isoflop-total-transformer.html", "optimal-total-transformer.html", "comparison-total.md" })
                Assert.True(File.Exists(Path.Combine(dir, name)), name);

            // the completed budgets of a sweep still running: 2 of the 3 budgets, 14 of the 21 runs
            (code, stdout, stderr) = ArchLabCli.Run("fit", dir, "--bootstrap", "30", "--parametric-bootstrap", "3", "--grid", "coarse", "--max-budget", "1e11");
            Assert.True(code == 0, stdout + stderr);
            Assert.Contains("fitting 14 of the 21 runs", stdout);
            Assert.Equal(14, JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "fits.json")))!["runs"]!.GetValue<int>());
            (code, _, stderr) = ArchLabCli.Run("fit", dir, "--max-budget", "-1");
            Assert.NotEqual(0, code);
            Assert.Contains("--max-budget must be positive", stderr);
            (code, _, stderr) = ArchLabCli.Run("fit", dir, "--bootstrap-starts", "-1");
            Assert.NotEqual(0, code);
            Assert.Contains("--bootstrap-starts must be ≥ 0", stderr);
        }
        finally { Directory.Delete(dir, true); }
    }
}
