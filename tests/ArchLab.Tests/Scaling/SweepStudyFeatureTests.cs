using System.Text.Json;
using ArchLab.Data;
using ArchLab.Models;
using ArchLab.Scaling;
using ArchLab.Tests.TestSupport;
using ArchLab.Training;

namespace ArchLab.Tests.Scaling;

/// <summary>Issue 18: hybrid entries and per-architecture ladders, extra seeds, the tokens-per-parameter window, ladder-end
/// flags, seed-averaged optima, the frontier's points, fit progress and the plan cache.</summary>
public class SweepStudyFeatureTests
{
    const string Json = """
        { "name": "t",
          "architectures": ["transformer",
            { "name": "hyb", "layer_pattern": ["mamba", "transformer"], "sizes": [{ "dim": 32, "layers": 2 }, { "dim": 32, "layers": 4 }, { "target_params": 90000 }] }],
          "sizes": [{ "dim": 16, "layers": 1 }, { "dim": 32, "layers": 1 }],
          "compute_budgets": [1e10, 3e10], "extra_seeds": { "seeds": [7, 8], "budgets": [3e10] },
          "seq_len": 32, "batch_size": 4, "min_steps": 5 }
        """;

    [Fact]
    public void AHybridEntryRepeatsItsPatternOverItsOwnLadder()
    {
        var plans = SweepPlanner.Plan(SweepSpec.FromJson(Json));
        var hybrid = plans.Where(p => p.Arch == "hyb").ToList();
        Assert.NotEmpty(hybrid);
        foreach (var p in hybrid)
        {
            Assert.StartsWith("hyb-d", p.Id);
            Assert.Equal(p.Model.Layers, p.Model.LayerPattern!.Length);
            for (int i = 0; i < p.Model.Layers; i++) Assert.Equal(i % 2 == 0 ? "mamba" : "transformer", p.Model.LayerPattern[i]);
            using var model = new LanguageModel(p.Model);
            Assert.Equal(model.NonEmbeddingParameters, p.NonEmbeddingParams);
            Assert.Equal(model.TrainingFlopsPerToken(32), p.FlopsPerToken);
        }
        // its own ladder: (32, 2), (32, 4) and a target, none of the sweep's one-layer sizes
        Assert.Contains(hybrid, p => p.Model is { Dim: 32, Layers: 4 });
        Assert.DoesNotContain(hybrid, p => p.Model.Layers == 1);
        Assert.Equal(3, hybrid.Where(p => p.Budget == 1e10).Select(p => p.NonEmbeddingParams).Distinct().Count());
        // the transformer keeps the sweep's ladder and plain ids
        Assert.Contains(plans, p => p.Id == "transformer-d16-l1-c1e10");
        Assert.All(plans.Where(p => p.Arch == "transformer"), p => Assert.Null(p.Model.LayerPattern));
        // a target size of a hybrid is a whole number of patterns deep
        var target = SizeLadder.ForTarget(SweepSpec.FromJson(Json), SweepSpec.FromJson(Json).Architectures[1], 90000);
        Assert.Equal(0, target.Layers % 2);
    }

    [Fact]
    public void ExtraSeedsRunEveryShapeAgainAtTheirBudgetsOnlyAndCheapBudgetsComeFirst()
    {
        var spec = SweepSpec.FromJson(Json);
        var plans = SweepPlanner.Plan(spec);
        Assert.Equal(plans.Count, plans.Select(p => p.Id).Distinct().Count());
        Assert.All(plans.Where(p => p.Budget == 1e10), p => Assert.Equal(spec.Seed, p.Seed));
        var at3e10 = plans.Where(p => p.Budget == 3e10).ToList();
        foreach (var shape in at3e10.Where(p => p.Seed == spec.Seed))
            foreach (int seed in new[] { 7, 8 })
            {
                var again = Assert.Single(at3e10, p => p.Seed == seed && p.Model == shape.Model with { LayerPattern = p.Model.LayerPattern });
                Assert.Equal(shape.Id + $"-s{seed}", again.Id);
                Assert.Equal(seed, again.Train.Seed);
                Assert.Equal(shape.Train with { Seed = seed }, again.Train);
            }
        // order: budget, then seed (the spec's first), then architecture
        var keys = plans.Select(p => (p.Budget, Seed: p.Seed == spec.Seed ? 0 : p.Seed, Arch: p.Arch == "transformer" ? 0 : 1)).ToList();
        Assert.Equal(keys.OrderBy(k => k.Budget).ThenBy(k => k.Seed).ThenBy(k => k.Arch), keys);
    }

    [Fact]
    public void TheTokensPerParameterWindowLeavesOutRunsOutsideIt()
    {
        var spec = SweepSpec.FromJson(Json);
        var all = SweepPlanner.Plan(spec);
        var windowed = SweepPlanner.Plan(spec with { MinTokensPerParam = 3, MaxTokensPerParam = 20 });
        Assert.True(windowed.Count < all.Count && windowed.Count > 0);
        Assert.All(windowed, p => Assert.InRange((double)p.Tokens / p.NonEmbeddingParams, 3, 20));
        Assert.Equal(all.Count(p => (double)p.Tokens / p.NonEmbeddingParams is >= 3 and <= 20), windowed.Count);
    }

    [Theory]
    [InlineData("""{ "name": "h", "layer_pattern": ["mamba", "gpt9"] }""", "unknown mixer 'gpt9'")]
    [InlineData("""{ "name": "h", "layer_pattern": [] }""", "'layer_pattern' is empty")]
    [InlineData("""{ "name": "h", "layer_pattern": ["mamba", "transformer"], "sizes": [{ "dim": 32, "layers": 3 }] }""", "3 layers is not a whole number of its 2-layer pattern")]
    [InlineData("""{ "name": "h", "layer_pattern": ["mamba", "mamba", "transformer"] }""", "'h': 2 layers is not a whole number of its 3-layer pattern (give the entry its own 'sizes')")]
    [InlineData("""{ "name": "h w", "layer_pattern": ["mamba"] }""", "architecture name must be")]
    [InlineData("""{ "name": "h", "arch": "mamba", "layer_pattern": ["mamba"] }""", "not both")]
    [InlineData("""{ "name": "h", "layer_pattern": ["mamba"], "sizes": [] }""", "'h': 'sizes' is empty")]
    [InlineData("""{ "name": "transformer", "arch": "mamba" }""", "appears twice")]
    [InlineData("""42""", "a name or an object")]
    public void BadArchitectureEntriesNameTheProblem(string entry, string expected)
    {
        string json = $$"""{ "name": "t", "architectures": ["transformer", {{entry}}], "sizes": [{ "dim": 32, "layers": 2 }], "compute_budgets": [1e10] }""";
        var e = Assert.Throws<ConfigException>(() => SweepSpec.FromJson(json));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("""{ "seeds": [7], "budgets": [5e10] }""", "5e10 is not one of the sweep's budgets (1e10)")]
    [InlineData("""{ "seeds": [1337], "budgets": [1e10] }""", "must differ")]
    [InlineData("""{ "seeds": [], "budgets": [1e10] }""", "'seeds' is empty")]
    public void BadExtraSeedsNameTheProblem(string extra, string expected)
    {
        string json = $$"""{ "name": "t", "architectures": ["transformer"], "sizes": [{ "dim": 32, "layers": 2 }], "compute_budgets": [1e10], "extra_seeds": {{extra}} }""";
        var e = Assert.Throws<ConfigException>(() => SweepSpec.FromJson(json));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ASpecWithHybridsSurvivesARoundTripThroughJson()
    {
        var spec = SweepSpec.FromJson(Json);
        var again = SweepSpec.FromJson(spec.ToJson());
        Assert.Equal(spec.ToJson(), again.ToJson());
        Assert.Contains("\"transformer\"", spec.ToJson()); // a plain entry is written back as a name
        Assert.Equal(SweepPlanner.Plan(spec).Select(p => p.Id), SweepPlanner.Plan(again).Select(p => p.Id));
    }

    static ScalingPoint P(double budget, double n, double loss) => new(n, budget / (6 * n), budget, budget, loss, 6 * n);

    [Fact]
    public void LadderEndsAreFlaggedFromMeasuredLossesAveragedOverSeeds()
    {
        var points = new List<ScalingPoint>
        {
            // 1e12: bracketed (best in the middle)
            P(1e12, 1e4, 3.0), P(1e12, 2e4, 2.9), P(1e12, 4e4, 3.1),
            // 1e13: the largest size is best
            P(1e13, 1e4, 3.0), P(1e13, 2e4, 2.9), P(1e13, 4e4, 2.8),
            // 1e14: one seed of the smallest size is luckiest, but the mean of its seeds is not the best: bracketed
            P(1e14, 1e4, 2.0), P(1e14, 1e4, 3.0), P(1e14, 2e4, 2.4), P(1e14, 4e4, 2.6),
            // 1e15: two sizes only
            P(1e15, 1e4, 2.0), P(1e15, 2e4, 2.1),
        };
        var ends = LadderCheck.Measured("x", points);
        Assert.Equal(2, ends.Count);
        Assert.Equal((1e13, "largest", 4e4), (ends[0].Budget, ends[0].Where, ends[0].BestN));
        Assert.Equal((1e15, "too few sizes"), (ends[1].Budget, ends[1].Where));
        Assert.Contains("largest of its 3 sizes", ends[0].ToString());

        // approach 1 takes the seed mean too: at 1e14 its optimum is N = 2e4, not the lucky seed's 1e4
        var fit = ChinchillaFits.Envelope(points, new ChinchillaFits.Options(Bootstrap: 10));
        Assert.Equal(2e4, fit.Optima.Single(o => o.Compute == 1e14).NOpt);
    }

    [Fact]
    public void PlannedLadderEndsUseTokensPerParameterUntilEveryRunOfABudgetHasFinished()
    {
        var spec = SweepSpec.FromJson(Json) with { PlannedTokensPerParam = 1e6 }; // far more tokens than any size gets
        var plans = SweepPlanner.Plan(spec).Where(p => p.Seed == spec.Seed).ToList();
        var ends = LadderCheck.Planned(spec, plans, []);
        // every budget's planned best is its smallest size (most tokens per parameter), or there are too few sizes
        Assert.Equal(plans.Select(p => (p.Arch, p.Budget)).Distinct().Count(), ends.Count);
        Assert.All(ends, e => Assert.Contains(e.Where, new[] { "smallest", "too few sizes" }));
        Assert.All(ends.Where(e => e.Where == "smallest"), e => Assert.StartsWith("planned", e.Basis));

        // the hybrid at 1e10 finished with its middle size best: measured, bracketed, no longer flagged
        var hybrid = plans.Where(p => p.Arch == "hyb" && p.Budget == 1e10).OrderBy(p => p.NonEmbeddingParams).ToList();
        Assert.Equal(3, hybrid.Count);
        var results = hybrid.Select((p, i) => new RunResult { Id = p.Id, Arch = p.Arch, FinalValLoss = i == 1 ? 2.0 : 3.0 }).ToList();
        var after = LadderCheck.Planned(spec, plans, results);
        Assert.DoesNotContain(after, e => e.Arch == "hyb" && e.Budget == 1e10);
        Assert.Equal(ends.Count - 1, after.Count);
    }

    [Fact]
    public void TheFrontierHasOnePointPerBudgetAtThatRunsOwnCompute()
    {
        // runs of one budget differ a little in compute (whole batches)
        var points = new List<ScalingPoint>
        {
            new(1e4, 1e6, 1.02e11, 1e11, 3.0, 1e5), new(2e4, 5e5, 0.99e11, 1e11, 2.8, 2e5), new(4e4, 2.5e5, 1.01e11, 1e11, 2.9, 4e5),
            new(2e4, 1.5e6, 3.03e11, 3e11, 2.6, 2e5), new(4e4, 7.5e5, 2.98e11, 3e11, 2.5, 4e5),
            new(4e4, 2.5e6, 1.005e12, 1e12, 2.55, 4e5), // worse than 3e11's best: off the frontier
        };
        var frontier = ScalingPlots.FrontierPoints(points);
        Assert.Equal([0.99e11, 2.98e11], frontier.Select(p => p.C));
        Assert.Equal([2.8, 2.5], frontier.Select(p => p.Loss));
    }

    [Fact]
    public void TheParametricFitReportsItsProgress()
    {
        var rng = new Random(3);
        var truth = new ParametricLoss(1.7, 400, 400, 0.34, 0.28);
        var points = Enumerable.Range(0, 30).Select(i =>
        {
            double n = Math.Pow(10, 4 + rng.NextDouble() * 3), d = Math.Pow(10, 6 + rng.NextDouble() * 3);
            return new ScalingPoint(n, d, 6 * n * d, null, truth.Loss(n, d), 6 * n);
        }).ToList();
        var calls = new List<(int Done, int Total)>();
        ParametricLossFit.Run(points.Select(p => p.N).ToList(), points.Select(p => p.D).ToList(), points.Select(p => p.Loss).ToList(),
            ParametricLossFit.CoarseGrid(), progress: (done, total) => calls.Add((done, total)));
        Assert.Equal(Enumerable.Range(1, 243).Select(i => (i, 243)), calls);

        var log = new StringWriter();
        ChinchillaFits.Parametric(points, new ChinchillaFits.Options(ParametricBootstrap: 5, ParametricGrid: ParametricLossFit.CoarseGrid(), Progress: log));
        string text = log.ToString();
        Assert.Contains("L-BFGS start 243/243", text);
        Assert.Contains("L-BFGS start 25/243", text); // a line at every tenth
        Assert.Contains("bootstrap refit 5/5", text);
        Assert.InRange(text.Split('\n').Length, 10, 30);
    }

    [Fact]
    public void ThePlanCacheGivesTheSamePlanAndIsRebuiltForAnotherSpec()
    {
        string dir = Directory.CreateTempSubdirectory("archlab-plan-cache-").FullName;
        try
        {
            string cache = Path.Combine(dir, "plan-cache.json");
            var spec = SweepSpec.FromJson(Json);
            var fresh = SweepPlanner.Plan(spec, cache);
            Assert.True(File.Exists(cache));
            var cached = SweepPlanner.Plan(spec, cache);
            Assert.Equal(JsonSerializer.Serialize(fresh, ModelConfig.Json), JsonSerializer.Serialize(cached, ModelConfig.Json));
            Assert.Equal(fresh.Select(p => (p.Id, p.Tokens, p.Compute, p.Seed)), cached.Select(p => (p.Id, p.Tokens, p.Compute, p.Seed)));
            var other = spec with { ComputeBudgets = [1e10], ExtraSeeds = null };
            Assert.Equal(SweepPlanner.Plan(other).Select(p => p.Id), SweepPlanner.Plan(other, cache).Select(p => p.Id));
            File.WriteAllText(cache, "{ not json");
            Assert.Equal(fresh.Select(p => p.Id), SweepPlanner.Plan(spec, cache).Select(p => p.Id));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void AKilledHybridRunResumesFromItsCheckpoint()
    {
        using var corpus = new TinyCorpus();
        string outDir = corpus.NewRunDir();
        var spec = SweepSpec.FromJson($$"""
            { "name": "h", "architectures": [{ "name": "hyb", "layer_pattern": ["mamba", "transformer"] }],
              "sizes": [{ "dim": 16, "layers": 2 }], "token_budgets": [{{40 * 4 * 32}}], "data": ["{{corpus.Dir}}"],
              "seq_len": 32, "batch_size": 4, "eval_batches": 2, "min_steps": 5, "curve_points": 5 }
            """);
        var plan = Assert.Single(SweepPlanner.Plan(spec));
        var text = TextCorpus.FromPaths([corpus.Dir]);
        using var tokens = TokenizedCorpus.Load(text, Tokenizers.Create("byte", text, TextWriter.Null), cacheDir: Path.Combine(outDir, "cache"));
        // train part of the run, as a killed worker would have
        string runDir = Path.Combine(outDir, "runs", plan.Id);
        using var cancel = new CancellationTokenSource();
        var trainer = Trainer.Start(plan.Model, plan.Train, new CorpusTrainingData(tokens, 4, 32, plan.Train.Seed), runDir, TorchSharp.torch.CPU);
        trainer.StepLogged += m => { if (m.Step >= 25) cancel.Cancel(); };
        Assert.ThrowsAny<OperationCanceledException>(() => trainer.Run(cancel.Token));
        Assert.NotNull(TrainingCheckpoint.Latest(runDir));
        var log = new StringWriter();
        var result = SweepRun.Execute(spec, plan, tokens, outDir, TorchSharp.torch.CPU, log);
        Assert.Contains("resuming at step", log.ToString());
        Assert.Equal(plan.Id, result.Id);
        Assert.True(double.IsFinite(result.FinalValLoss));
    }
}
