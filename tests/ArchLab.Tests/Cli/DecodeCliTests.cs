using ArchLab.Tests.TestSupport;

namespace ArchLab.Tests.Cli;

/// <summary>The generate, eval --by-position and bench decode/memory commands reject bad input with one clean line.</summary>
[Trait("Category", Category.Cli)]
public class DecodeCliTests
{
    [Fact]
    public void GenerateRejectsTopPOutsideTheUnitInterval() =>
        ArchLabCli.AssertCleanError(ArchLabCli.Run("generate", "--model", "/nonexistent", "--prompt", "a", "--top-p", "1.5"), "top-p must be in (0, 1]", exitCode: 2);

    [Fact]
    public void GenerateRejectsNegativeTemperature() =>
        ArchLabCli.AssertCleanError(ArchLabCli.Run("generate", "--model", "/nonexistent", "--prompt", "a", "--temperature", "-1"), "temperature must be ≥ 0", exitCode: 2);

    [Fact]
    public void BenchDecodeRejectsZeroSteps() =>
        ArchLabCli.AssertCleanError(ArchLabCli.Run("bench", "decode", "--steps", "0"), "--steps and --rounds must be positive", exitCode: 2);
}
