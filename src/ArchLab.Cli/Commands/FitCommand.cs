using System.CommandLine;
using ArchLab.Scaling;

namespace ArchLab.Cli.Commands;

/// <summary><c>archlab fit experiments/&lt;sweep&gt;</c>: Chinchilla approaches 1–3 with bootstrap intervals, fits.json/csv and charts.</summary>
public static class FitCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("sweep-dir") { Description = "a sweep's results folder (holding runs.jsonl)" };
        var bootstrap = new Option<int>("--bootstrap") { Description = "bootstrap resamples for approaches 1 and 2", DefaultValueFactory = _ => 200 };
        var parametricBootstrap = new Option<int>("--parametric-bootstrap") { Description = "bootstrap resamples for approach 3", DefaultValueFactory = _ => 100 };
        var total = new Option<bool>("--total-params") { Description = "fit total parameters (with embedding and head) instead of non-embedding ones; writes fits-total.json, fits-total.csv, isoflop-total-*.html, optimal-total-*.html" };
        var grid = new Option<string>("--grid") { Description = "approach 3 L-BFGS starts: full (4500, as Epoch AI) or coarse (243)", DefaultValueFactory = _ => "full" };
        var bootstrapStarts = new Option<int>("--bootstrap-starts") { Description = "approach 3's bootstrap refits restart L-BFGS from this many of the full fit's best starts; 0: from the whole grid (slow)", DefaultValueFactory = _ => 8 };
        var seed = new Option<int>("--seed") { Description = "bootstrap random seed", DefaultValueFactory = _ => 0 };
        var maxBudget = new Option<double?>("--max-budget") { Description = "fit only runs of budgets up to this one (FLOPs, or tokens for token budgets): the completed budgets of a sweep still running" };
        var command = new Command("fit", "Chinchilla scaling fits (approaches 1, 2, 3) of a sweep, with bootstrap confidence intervals and plots")
            { dir, bootstrap, parametricBootstrap, total, grid, bootstrapStarts, seed, maxBudget };
        command.SetAction(p =>
        {
            if (p.GetValue(bootstrap) < 0 || p.GetValue(parametricBootstrap) < 0) throw new ArgumentException("--bootstrap must be ≥ 0");
            if (p.GetValue(bootstrapStarts) < 0) throw new ArgumentException($"--bootstrap-starts must be ≥ 0, got {p.GetValue(bootstrapStarts)}");
            var starts = p.GetValue(grid) switch
            {
                "full" => ParametricLossFit.DefaultGrid(),
                "coarse" => ParametricLossFit.CoarseGrid(),
                var other => throw new ArgumentException($"--grid: unknown grid '{other}' (full or coarse)"),
            };
            string folder = p.GetValue(dir)!;
            if (!Directory.Exists(folder)) throw new ArgumentException($"{folder} is not a folder");
            string cmd = "archlab fit " + string.Join(' ', Environment.GetCommandLineArgs().Skip(2));
            SweepFitter.Fit(folder, new ChinchillaFits.Options(p.GetValue(bootstrap), p.GetValue(parametricBootstrap), p.GetValue(seed), starts, Progress: Console.Out,
                BootstrapStarts: p.GetValue(bootstrapStarts)),
                p.GetValue(total), cmd, Console.Out, p.GetValue(maxBudget) is double m && !(m > 0) ? throw new ArgumentException($"--max-budget must be positive, got {m}") : p.GetValue(maxBudget));
            string tag = SweepFitter.FileTag(p.GetValue(total));
            Console.WriteLine($"wrote {Path.Combine(folder, $"fits{tag}.json")}, fits{tag}.csv, isoflop{tag}-*.html, optimal{tag}-*.html, frontier.html");
            return 0;
        });
        return command;
    }
}
