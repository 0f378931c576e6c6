namespace ArchLab.Tests.TestSupport;

/// <summary>A fact that is reported as skipped, not passed, where the file it needs is missing (xunit 2 has no runtime
/// skip: the attribute decides when the tests are discovered).</summary>
public sealed class FactWhenFileExistsAttribute : FactAttribute
{
    public FactWhenFileExistsAttribute(string path)
    {
        if (!File.Exists(path)) Skip = $"needs {path} (not on this system)";
    }
}

/// <summary>Trait values for filtering: <c>dotnet test --filter "Category!=Slow&amp;Category!=Cli"</c> runs the fast in-process tests.</summary>
public static class Category
{
    /// <summary>Minutes, not seconds (every notebook run end to end, a BPE vocabulary trained on the whole corpus).</summary>
    public const string Slow = "Slow";
    /// <summary>Starts the archlab CLI as a child process.</summary>
    public const string Cli = "Cli";
    /// <summary>Writes and checks Slurm job arrays (sbatch is faked).</summary>
    public const string Slurm = "Slurm";
}
