namespace ArchLab.IO;

/// <summary>
/// Writes a file so that readers never see it half written: write to a unique temporary file in the same folder,
/// flush it to disk, then rename it over the destination (rename is atomic on one file system). Two processes that
/// build the same cache entry at once both succeed; the last rename wins and both contents are complete.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        string fullPath = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        string temp = TempPathFor(fullPath);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, fullPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s, new System.Text.UTF8Encoding(false), leaveOpen: true); w.Write(text); });

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        byte[] copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    /// <summary>A unique temporary name next to <paramref name="fullPath"/> (same folder, so the rename stays atomic).</summary>
    public static string TempPathFor(string fullPath) =>
        $"{fullPath}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
}
