using System.Diagnostics;

namespace ArchLab.Tests.TestSupport;

/// <summary>Runs the real archlab CLI (the built ArchLab.Cli.dll next to the tests) as a child process.</summary>
public static class ArchLabCli
{
    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "ArchLab.Cli.dll");

    /// <summary>A bad input's answer: a non-zero exit (2 for arguments the CLI rejects), one stderr line naming the problem,
    /// no stack trace.</summary>
    public static void AssertCleanError((int ExitCode, string Stdout, string Stderr) result, string expected, int? exitCode = null)
    {
        if (exitCode is int code) Assert.Equal(code, result.ExitCode);
        else Assert.True(result.ExitCode != 0, $"exit 0; stdout: {result.Stdout}");
        Assert.Contains(expected, result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr); // no stack trace
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    public static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(DllPath);
        // Same mitigation as ./archlab for TorchSharp 0.107's Scalar lifetime race (see README "Platform").
        if (Environment.GetEnvironmentVariable("DOTNET_GCgen0size") is null) info.Environment["DOTNET_GCgen0size"] = "0x20000000";
        foreach (var a in args) info.ArgumentList.Add(a);
        return Process.Start(info)!;
    }

    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args) => Run(TimeSpan.FromMinutes(5), args);

    public static (int ExitCode, string Stdout, string Stderr) Run(TimeSpan limit, params string[] args)
    {
        using var process = Start(args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"archlab {string.Join(' ', args)} did not finish in {limit.TotalMinutes} minutes");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>A small deterministic English-like corpus in a temp folder (several files, so it splits by document).</summary>
public sealed class TinyCorpus : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("archlab-corpus-").FullName;

    public TinyCorpus(int files = 24, int sentencesPerFile = 60)
    {
        string[] subjects = ["the cat", "a dog", "the old man", "my sister", "the river", "a small bird", "the teacher", "our town"];
        string[] verbs = ["sees", "likes", "follows", "finds", "remembers", "carries", "watches", "builds"];
        string[] objects = ["the red ball", "a quiet house", "the long road", "a bright star", "the green field", "an open door"];
        var rng = new Random(42);
        for (int f = 0; f < files; f++)
        {
            var lines = Enumerable.Range(0, sentencesPerFile).Select(_ =>
                $"{subjects[rng.Next(subjects.Length)]} {verbs[rng.Next(verbs.Length)]} {objects[rng.Next(objects.Length)]}.");
            File.WriteAllText(Path.Combine(Dir, $"doc{f:D2}.txt"), string.Join("\n", lines) + "\n");
        }
    }

    public string NewRunDir() => Path.Combine(Dir, "..", Path.GetFileName(Dir) + "-run-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
