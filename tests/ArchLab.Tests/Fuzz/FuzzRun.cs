using System.Diagnostics;
using CsCheck;

namespace ArchLab.Tests.Fuzz;

/// <summary>
/// One property-based fuzz run over a reader: every generated input must either read or fail with one of the reader's
/// documented exception types and a one-line message; anything else (another type, a crash) fails the test with the input
/// CsCheck shrank it to. Counts per outcome are kept for the summary. The default suite runs a few hundred to a few thousand
/// inputs per reader; <c>ARCHLAB_FUZZ_LONG=1</c> runs the long campaign (≥ 20,000 inputs over the four readers), and
/// <c>ARCHLAB_FUZZ_REPORT=FILE</c> appends each run's figures to FILE.
/// </summary>
public sealed class FuzzRun(string reader, params Type[] expected)
{
    readonly Dictionary<string, long> outcomes = new(StringComparer.Ordinal);
    long inputs;

    const string DefaultSeed = "4YF9DaPVUcL1";

    public static bool Long => Environment.GetEnvironmentVariable("ARCHLAB_FUZZ_LONG") == "1";

    public static long Iterations(long quick, long campaign) => Long ? campaign : quick;

    /// <summary>Runs <paramref name="read"/> on one input and checks how it ended.</summary>
    public void Check(Action read)
    {
        inputs++;
        string outcome;
        try
        {
            read();
            outcome = "ok";
        }
        catch (Exception e) when (expected.Any(t => t.IsInstanceOfType(e)))
        {
            if (e.Message.Contains('\n') || string.IsNullOrWhiteSpace(e.Message))
                throw new InvalidOperationException($"{e.GetType().Name} without a one-line message: {e.Message}");
            outcome = e.GetType().Name;
        }
        outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
    }

    /// <summary>Samples <paramref name="gen"/> on one thread (the readers use temporary files and libtorch) and reports.</summary>
    public void Sample<T>(Gen<T> gen, Action<T> property, long iterations, Func<T, string>? print = null)
    {
        var clock = Stopwatch.StartNew();
        // The default suite replays one fixed seed (the same inputs every run, so it cannot fail by chance); the long campaign
        // draws fresh ones, and CsCheck_Seed=SEED replays any failure it prints.
        gen.Sample(input => Check(() => property(input)), seed: Long ? null : DefaultSeed, iter: iterations, threads: 1, print: print);
        Report(clock.Elapsed);
    }

    void Report(TimeSpan elapsed)
    {
        string line = $"{DateTime.UtcNow:u} fuzz {reader}: {inputs} inputs in {elapsed.TotalSeconds:F1} s, 0 unexpected; outcomes: " +
                      string.Join(", ", outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Key} {o.Value}"));
        Console.WriteLine(line);
        if (Environment.GetEnvironmentVariable("ARCHLAB_FUZZ_REPORT") is { Length: > 0 } file) File.AppendAllText(file, line + "\n");
    }
}
