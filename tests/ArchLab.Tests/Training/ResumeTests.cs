using System.Text.Json.Nodes;
using ArchLab.Tests.TestSupport;

namespace ArchLab.Tests.Training;

/// <summary>Kill `archlab train` mid-run, resume it, and get exactly the losses of an uninterrupted run.</summary>
[Trait("Category", Category.Cli)]
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

    /// <summary>
    /// Six kill -9 at seeded random steps of one run, each followed by --resume: the final losses equal an uninterrupted
    /// run's bit for bit. Checkpoints every 5 steps; every other kill is aimed at the moment just after a checkpoint step is
    /// logged, around that checkpoint's write (the others fall mid-step); no partial checkpoint folder is left.
    /// </summary>
    [Fact]
    public void SixKillsAtRandomMomentsStillResumeToIdenticalLosses()
    {
        using var corpus = new TinyCorpus();
        const int steps = 120;
        string[] Args(string run) => [.. TrainArgs(corpus.Dir, run, steps).Select(a => a == "20" ? "5" : a)]; // --checkpoint-every 5
        string reference = corpus.NewRunDir(), interrupted = corpus.NewRunDir();
        var full = ArchLabCli.Run(Args(reference));
        Assert.True(full.ExitCode == 0, full.Stderr);

        var random = new Random(2026);
        string metrics = Path.Combine(interrupted, "metrics.jsonl");
        int kills = 0;
        for (int round = 0; round < 6; round++)
        {
            int logged = File.Exists(metrics) ? File.ReadAllLines(metrics).Length : 0;
            int target = logged + random.Next(8, 16);
            if (round % 2 == 0) target = (target / 5 + 1) * 5; // a checkpoint step: its checkpoint is written right after the line
            string[] args = round == 0 ? Args(interrupted) : ["train", "--resume", "--out", interrupted, "--sample-tokens", "0", "--threads", "1"];
            using var process = ArchLabCli.Start(args);
            var deadline = DateTime.UtcNow.AddMinutes(3);
            while (DateTime.UtcNow < deadline && !process.HasExited)
            {
                if (File.Exists(metrics) && File.ReadLines(metrics).Count() >= target) break;
                Thread.Sleep(2);
            }
            if (process.HasExited) break; // finished before this kill: the run is complete
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            kills++;
        }
        Assert.True(kills >= 5, $"only {kills} kills landed before the run finished");
        var resumed = ArchLabCli.Run(["train", "--resume", "--out", interrupted, "--sample-tokens", "0", "--threads", "1"]);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Empty(Directory.GetDirectories(Path.Combine(interrupted, "checkpoints"), ".step_*")); // no partial checkpoint left

        var expected = Losses(reference, "loss");
        var actual = Losses(interrupted, "loss");
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (step, loss) in expected)
            Assert.True(loss == actual[step], $"step {step}: uninterrupted loss {loss:R}, after {kills} kills {actual[step]:R}");
        Assert.Equal(Losses(reference, "val_loss"), Losses(interrupted, "val_loss"));
    }
}
