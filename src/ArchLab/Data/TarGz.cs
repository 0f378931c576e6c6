using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace ArchLab.Data;

/// <summary>Reads the text files of a .tar.gz / .tgz archive into memory (System.Formats.Tar + GZipStream, no shell tar).</summary>
public static class TarGz
{
    /// <summary>Every regular file whose path (inside the archive) passes <paramref name="include"/>, as UTF-8 text.</summary>
    public static List<(string Path, string Text)> ReadTextFiles(string archivePath, Func<string, bool> include)
    {
        var files = new List<(string, string)>();
        using var file = File.OpenRead(archivePath);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
            if (entry.DataStream is null || !include(entry.Name)) continue;
            using var reader = new StreamReader(entry.DataStream, Encoding.UTF8);
            files.Add((entry.Name, reader.ReadToEnd()));
        }
        return files;
    }
}
