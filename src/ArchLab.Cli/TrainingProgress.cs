using ArchLab.Training;
using Spectre.Console;

namespace ArchLab.Cli;

/// <summary>A progress bar with loss and tokens/s (plain log lines when the output is not a terminal).</summary>
public static class TrainingProgress
{
    public static EvalResult Run(Trainer trainer)
    {
        trainer.Evaluated += (step, r) => AnsiConsole.MarkupLine(
            $"step {step,6}: [blue]val loss {r.Loss:F4}[/]  ppl {r.Perplexity:F2}  bpb {r.BitsPerByte:F4}");

        if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            trainer.StepLogged += m => Console.WriteLine(
                $"step {m.Step,6}/{m.TotalSteps}: loss {m.Loss:F4}  lr {m.LearningRate:E2}  {m.TokensPerSecond,8:F0} tok/s");
            return trainer.Run();
        }

        EvalResult? result = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("training", maxValue: trainer.Config.Steps);
                task.Value = trainer.State.Step;
                trainer.StepLogged += m =>
                {
                    task.Value = m.Step;
                    task.Description = $"loss {m.Loss:F3}  {m.TokensPerSecond:F0} tok/s";
                };
                result = trainer.Run();
            });
        return result!;
    }
}
