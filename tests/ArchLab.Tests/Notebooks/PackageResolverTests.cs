using ArchLab.Notebooks;

namespace ArchLab.Tests.Notebooks;

/// <summary>Resolution from the restored NuGet packages folder (the tests' own packages are restored there).</summary>
public class PackageResolverTests
{
    static readonly string NoAppDeps = Path.Combine(Path.GetTempPath(), "archlab-no-such.deps.json");

    [Fact]
    public void ResolvesAPackageAndItsDependenciesForTheBestFramework()
    {
        var resolver = new PackageResolver(depsJsonPath: NoAppDeps);
        var files = resolver.Resolve("Microsoft.ML.Tokenizers", "2.0.1").Select(Path.GetFileName).ToList();
        Assert.Contains("Microsoft.ML.Tokenizers.dll", files);
        Assert.Contains("Google.Protobuf.dll", files); // the net8.0 group's one dependency
        Assert.DoesNotContain("System.Memory.dll", files); // only the .NETStandard2.0 group needs that
    }

    [Fact]
    public void UnknownPackageOrVersionIsNamed()
    {
        var resolver = new PackageResolver(depsJsonPath: NoAppDeps);
        var missing = Assert.Throws<PackageResolutionException>(() => resolver.Resolve("ArchLab.Not.A.Package", "1.0.0"));
        Assert.Contains("'ArchLab.Not.A.Package'", missing.Message);
        var badVersion = Assert.Throws<PackageResolutionException>(() => resolver.Resolve("xunit.assert", "0.0.1"));
        Assert.Contains("'xunit.assert' version 0.0.1", badVersion.Message);
        Assert.Contains("2.9.3", badVersion.Message); // lists what is restored
    }
}
