using ArchLab.Data;

namespace ArchLab.Tests.Data;

public sealed class TextCorpusTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("archlab-corpus-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void FromPaths_ReadsTextFilesRecursivelyAndSplits()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "sub"));
        for (int i = 0; i < 40; i++)
            File.WriteAllText(Path.Combine(_dir, i % 2 == 0 ? "sub" : "", $"f{i:D2}.txt"), $"file number {i:D2}\r\n");
        File.WriteAllText(Path.Combine(_dir, "ignored.bin"), "binary junk");

        var corpus = TextCorpus.FromPaths(_dir);
        string all = corpus.Train + corpus.Validation;
        Assert.Equal(40, all.Split("file number").Length - 1);
        Assert.Equal(2, corpus.Validation.Split("file number").Length - 1);
        Assert.DoesNotContain("junk", all);
        Assert.DoesNotContain("\r", all);
        Assert.Equal(corpus.ContentHash, TextCorpus.FromPaths(_dir).ContentHash);
    }

    [Fact]
    public void FromPaths_EmptyFolderOrWhitespace_ThrowsNamingThePath()
    {
        var none = Assert.Throws<EmptyCorpusException>(() => TextCorpus.FromPaths(_dir));
        Assert.Contains(_dir, none.Message);

        File.WriteAllText(Path.Combine(_dir, "blank.txt"), "  \n\t\n");
        var blank = Assert.Throws<EmptyCorpusException>(() => TextCorpus.FromPaths(_dir));
        Assert.Contains(_dir, blank.Message);
        Assert.Contains("whitespace", blank.Message);
    }

    [Fact]
    public void FromPaths_MissingPath_ThrowsNamingIt()
    {
        string missing = Path.Combine(_dir, "nope.txt");
        var e = Assert.Throws<FileNotFoundException>(() => TextCorpus.FromPaths(missing));
        Assert.Contains(missing, e.Message);
    }
}
