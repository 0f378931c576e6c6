using ArchLab.IO;
using ArchLab.Data;

namespace ArchLab.Tests.IO;

public sealed class AtomicFileTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("archlab-atomic-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ConcurrentWriters_LeaveOneCompleteFileAndNoTemporaries()
    {
        string path = Path.Combine(_dir, "shared.bin");
        Parallel.For(0, 16, i => AtomicFile.WriteAllBytes(path, Enumerable.Repeat((byte)i, 1 << 18).ToArray()));
        byte[] result = File.ReadAllBytes(path);
        Assert.Equal(1 << 18, result.Length);
        Assert.All(result, b => Assert.Equal(result[0], b)); // one writer's content, never a mix
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void FailedWrite_LeavesTheOldFileAndNoTemporary()
    {
        string path = Path.Combine(_dir, "keep.txt");
        AtomicFile.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() =>
            AtomicFile.Write(path, s => { s.WriteByte(1); throw new InvalidOperationException("boom"); }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void RepoRoot_IsFoundFromTheTestOutputFolder()
    {
        string? root = CacheDirectory.FindRepoRoot(AppContext.BaseDirectory);
        Assert.NotNull(root);
        Assert.True(File.Exists(Path.Combine(root, "ArchLab.sln")));
        Assert.Null(CacheDirectory.FindRepoRoot(Path.GetTempPath()));
    }
}
