using ArchLab.Tests.TestSupport;
using ArchLab.Models;
using ArchLab.Scaling;
using ArchLab.Training;

namespace ArchLab.Tests.Scaling;

[Trait("Category", Category.Cli)]
public class SweepPlanTests
{
    const string Json = """
        { "name": "t", "architectures": ["transformer", "mamba"],
          "sizes": [{ "target_params": 20000 }, { "dim": 32, "layers": 2 }],
          "compute_budgets": [1e11, 3e11], "seq_len": 32, "batch_size": 4, "min_steps": 5 }
        """;

    [Fact]
    public void IsoFlopRunsTrainForTheirBudgetWithTheModelsOwnFlopsPerToken()
    {
        var plans = SweepPlanner.Plan(SweepSpec.FromJson(Json));
        Assert.Equal(8, plans.Count);
        Assert.Equal(plans.Count, plans.Select(p => p.Id).Distinct().Count());
        foreach (var plan in plans)
        {
            using var model = new LanguageModel(plan.Model);
            Assert.Equal(model.TrainingFlopsPerToken(32), plan.FlopsPerToken);
            Assert.Equal(model.NonEmbeddingParameters, plan.NonEmbeddingParams);
            Assert.Equal(model.TotalParameters, plan.TotalParams);
            // steps rounded to whole batches: within half a step of the budget
            Assert.InRange(plan.Compute, plan.ComputeBudget!.Value - 0.5 * plan.FlopsPerToken * 128, plan.ComputeBudget!.Value + 0.5 * plan.FlopsPerToken * 128);
            // the schedule spans the run: warmup is a fraction of this run's steps and cosine ends at its last step
            Assert.Equal((int)Math.Round(0.05 * plan.Train.Steps), plan.Train.WarmupSteps);
            Assert.Equal(plan.Train.LearningRate * plan.Train.MinLrRatio,
                LearningRateSchedule.At(plan.Train.Steps - 1, plan.Train.Steps, plan.Train.LearningRate, plan.Train.WarmupSteps, plan.Train.MinLrRatio), 12);
        }
    }

    [Theory]
    [InlineData("transformer", 5000)]
    [InlineData("transformer", 200000)]
    [InlineData("mamba", 50000)]
    [InlineData("rwkv4", 100000)]
    [InlineData("retnet", 30000)]
    public void TheLadderComesCloseToTheTarget(string arch, long target)
    {
        var spec = SweepSpec.FromJson(Json);
        var config = SizeLadder.ForTarget(spec, arch, target);
        using var model = new LanguageModel(config);
        Assert.InRange((double)model.NonEmbeddingParameters / target, 0.6, 1.6);
    }

    [Theory]
    [InlineData("""{ "name": "t", "architectures": ["gpt9"], "sizes": [{"dim": 32, "layers": 1}], "token_budgets": [1000] }""", "unknown architecture 'gpt9'")]
    [InlineData("""{ "name": "t", "architectures": ["mamba"], "sizes": [{"dim": 32, "layers": 1}] }""", "exactly one of 'compute_budgets' and 'token_budgets'")]
    [InlineData("""{ "name": "t", "architectures": ["mamba"], "sizes": [{"dim": 32, "target_params": 5}], "token_budgets": [1000] }""", "either 'target_params' or 'dim' and 'layers'")]
    [InlineData("""{ "name": "t", "architectures": ["mamba"], "sizes": [{"dim": 32, "layers": 1}], "token_budgets": [1000], "learnin_rate": 1 }""", "learnin_rate")]
    [InlineData("""{ "name": "a b", "architectures": ["mamba"], "sizes": [{"dim": 32, "layers": 1}], "token_budgets": [1000] }""", "'name'")]
    // issue 15 F15: a name goes into a Slurm script and a folder name; nothing a shell or a path would interpret
    [InlineData("""{ "name": "x\ntouch${IFS}pwned\n#", "architectures": ["mamba"], "sizes": [{"dim": 32, "layers": 1}], "token_budgets": [1000] }""", "'name' must be")]
    [InlineData("""{ "name": "$(id)", "architectures": ["mamba"], "sizes": [{"dim": 32, "layers": 1}], "token_budgets": [1000] }""", "'name' must be")]
    [InlineData("""{ "name": "a;b", "architectures": ["mamba"], "sizes": [{"dim": 32, "layers": 1}], "token_budgets": [1000] }""", "'name' must be")]
    [InlineData("""{ "name": "..", "architectures": ["mamba"], "sizes": [{"dim": 32, "layers": 1}], "token_budgets": [1000] }""", "'name' must be")]
    [InlineData("""{ "name": "a\u2028b", "architectures": ["mamba"], "sizes": [{"dim": 32, "layers": 1}], "token_budgets": [1000] }""", "'name' must be")]
    [InlineData("""{ "name": null, "architectures": ["mamba"], "sizes": [{"dim": 32, "layers": 1}], "token_budgets": [1000] }""", "'name' must be")]
    [InlineData("""{ "name": "", "architectures": ["mamba"], "sizes": [{"dim": 32, "layers": 1}], "token_budgets": [1000] }""", "'name' must be")]
    public void BadSpecsNameTheProblem(string json, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => SweepSpec.FromJson(json));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("scaling-v2.1_final")]
    [InlineData("A-9")]
    public void SafeNamesAreAccepted(string name) =>
        Assert.Equal(name, SweepSpec.FromJson(Json.Replace("\"name\": \"t\"", $"\"name\": \"{name}\"")).Name);

    [Fact]
    public void SlurmScriptRefusesLineBreaksInItsDirectives()
    {
        var spec = SweepSpec.FromJson(Json);
        var e = Assert.Throws<ArgumentException>(() => SlurmSubmitter.Script(spec, [], "spec.json", "out", ["archlab"], partition: "gpu\ntouch pwned"));
        Assert.Contains("--partition", e.Message);
        e = Assert.Throws<ArgumentException>(() => SlurmSubmitter.Script(spec, [], "spec.json", "out\nx", ["archlab"]));
        Assert.Contains("--out", e.Message);
    }

    [Fact]
    public void BudgetsTooSmallForASizeAreLeftOut()
    {
        var spec = SweepSpec.FromJson(Json) with { ComputeBudgets = [1e8], MinSteps = 20 };
        Assert.Empty(SweepPlanner.Plan(spec));
    }
}
