using System.Text.Json.Nodes;
using ArchLab.Tests.TestSupport;

namespace ArchLab.Tests.Training;

/// <summary>Kill `archlab train` mid-run, resume it, and get exactly the losses of an uninterrupted run.</summary>
public class ResumeTests
{
    static string[] TrainArgs(string data, string run, int steps) =>
    [
        "train", "--data", data, "--out", run, "--dim", "64", "--layers", "2", "--heads", "2", "--seq-len", "64",
        "--batch-size", "8", "--steps", steps.ToString(), "--checkpoint-every", "20", "--eval-every", "50",
        "--eval-batches", "2", "--log-every", "1", "--warmup", "10", "--sample-tokens", "0", "--threads", "1",
    ];

    static Dictionary<long, double> Losses(string run, string key) =>
        File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
            .Select(l => JsonNode.Parse(l)!)
            .Where(n => n[key] is not null)
            .ToDictionary(n => n["step"]!.GetValue<long>(), n => n[key]!.GetValue<double>());

    [Fact]
    public void KilledRunResumesToIdenticalLosses()
    {
        using var corpus = new TinyCorpus();
        const int steps = 200;
        string reference = corpus.NewRunDir(), interrupted = corpus.NewRunDir();

        var full = ArchLabCli.Run(TrainArgs(corpus.Dir, reference, steps));
        Assert.True(full.ExitCode == 0, full.Stderr);

        // Kill -9 somewhere after the first checkpoint, mid-step.
        using (var process = ArchLabCli.Start(TrainArgs(corpus.Dir, interrupted, steps)))
        {
            string metrics = Path.Combine(interrupted, "metrics.jsonl");
            var deadline = DateTime.UtcNow.AddMinutes(3);
            while (DateTime.UtcNow < deadline && !process.HasExited)
            {
                if (File.Exists(metrics) && File.ReadAllLines(metrics).Length >= 67) break;
                Thread.Sleep(5);
            }
            Assert.False(process.HasExited, "the run finished before it could be killed");
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        long lastLogged = Losses(interrupted, "loss").Keys.Max();
        Assert.InRange(lastLogged, 21, steps - 1);

        var resumed = ArchLabCli.Run(["train", "--resume", "--out", interrupted, "--sample-tokens", "0", "--threads", "1"]);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains("resuming", resumed.Stdout);

        var expected = Losses(reference, "loss");
        var actual = Losses(interrupted, "loss");
        Assert.Equal(steps, expected.Count);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (step, loss) in expected)
            Assert.True(loss == actual[step], $"step {step}: uninterrupted loss {loss:R}, resumed {actual[step]:R}");
        Assert.Equal(Losses(reference, "val_loss"), Losses(interrupted, "val_loss"));
    }
}
