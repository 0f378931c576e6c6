using ArchLab.Tests.TestSupport;

namespace ArchLab.Tests.Cli;

/// <summary>The generate, eval --by-position and bench decode/memory commands reject bad input with one clean line.</summary>
public class DecodeCliTests
{
    static void AssertCleanError((int ExitCode, string Stdout, string Stderr) result, string expected)
    {
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public void GenerateRejectsTopPOutsideTheUnitInterval() =>
        AssertCleanError(ArchLabCli.Run("generate", "--model", "/nonexistent", "--prompt", "a", "--top-p", "1.5"), "top-p must be in (0, 1]");

    [Fact]
    public void GenerateRejectsNegativeTemperature() =>
        AssertCleanError(ArchLabCli.Run("generate", "--model", "/nonexistent", "--prompt", "a", "--temperature", "-1"), "temperature must be ≥ 0");

    [Fact]
    public void BenchDecodeRejectsZeroSteps() =>
        AssertCleanError(ArchLabCli.Run("bench", "decode", "--steps", "0"), "--steps and --rounds must be positive");
}
