namespace ArchLab.Data;

/// <summary>
/// Where downloaded corpora, trained tokenizers and token files are cached.
/// Order: the ARCHLAB_CACHE environment variable; else <c>&lt;repo&gt;/.cache</c> where &lt;repo&gt; is the first folder
/// above the working directory (or above this assembly) that holds ArchLab.sln; else <c>~/.cache/archlab</c>.
/// </summary>
public static class CacheDirectory
{
    public const string EnvironmentVariable = "ARCHLAB_CACHE";

    /// <summary>The cache root (created if missing).</summary>
    public static string Root
    {
        get
        {
            string root = ResolveRoot();
            Directory.CreateDirectory(root);
            return root;
        }
    }

    /// <summary>A sub-folder of the cache root, e.g. <c>For("corpus", "brown")</c> (created if missing).</summary>
    public static string For(params string[] parts)
    {
        string dir = Path.Combine([Root, .. parts]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    static string ResolveRoot()
    {
        string? fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv)) return Path.GetFullPath(fromEnv);

        string? repo = FindRepoRoot(Directory.GetCurrentDirectory()) ?? FindRepoRoot(AppContext.BaseDirectory);
        if (repo is not null) return Path.Combine(repo, ".cache");

        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".cache", "archlab");
    }

    /// <summary>The first folder at or above <paramref name="start"/> that holds ArchLab.sln, or null.</summary>
    public static string? FindRepoRoot(string start)
    {
        for (var dir = new DirectoryInfo(Path.GetFullPath(start)); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ArchLab.sln"))) return dir.FullName;
        return null;
    }
}
