using System.Security.Cryptography;
using System.Text;

namespace ArchLab.Data;

public enum CorpusSplit { Train, Validation }

/// <summary>
/// A corpus as plain text, already split into train and validation (see <see cref="CorpusSplitter"/>).
/// <see cref="ContentHash"/> identifies the content (used to key token caches).
/// </summary>
public sealed class TextCorpus(string name, string train, string validation)
{
    /// <summary>File extensions picked up when a folder is given to <see cref="FromPaths"/> (searched recursively).</summary>
    public static readonly string[] TextExtensions = [".txt", ".md", ".markdown", ".text", ".rst"];

    string? _contentHash;

    public string Name { get; } = name;
    public string Train { get; } = train;
    public string Validation { get; } = validation;

    public string this[CorpusSplit split] => split == CorpusSplit.Train ? Train : Validation;

    /// <summary>Hex SHA-256 of the train and validation text (so a different split is a different corpus).</summary>
    public string ContentHash => _contentHash ??= ComputeHash();

    public static TextCorpus FromDocuments(string name, IEnumerable<Document> documents)
    {
        var (train, validation) = CorpusSplitter.Split(documents);
        return new TextCorpus(name, train, validation);
    }

    /// <summary>
    /// A corpus from the user's files and folders. A file is used whatever its extension; a folder contributes every
    /// file under it (recursively, skipping names that start with '.') whose extension is in <see cref="TextExtensions"/>.
    /// Text is read as UTF-8 (BOM honoured) with CRLF turned into LF. Split: see <see cref="CorpusSplitter"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">A path does not exist (the message names it).</exception>
    /// <exception cref="EmptyCorpusException">No files were found, or they hold only whitespace.</exception>
    public static TextCorpus FromPaths(params string[] paths)
    {
        if (paths.Length == 0) throw new EmptyCorpusException("No corpus paths were given.");
        var files = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string path in paths)
        {
            string full = Path.GetFullPath(path);
            if (File.Exists(full)) files.Add(full);
            else if (Directory.Exists(full)) files.UnionWith(TextFilesUnder(full));
            else throw new FileNotFoundException($"Corpus path not found: {path}", path);
        }

        string listed = string.Join(", ", paths);
        if (files.Count == 0)
            throw new EmptyCorpusException(
                $"No text files ({string.Join(", ", TextExtensions)}) found in: {listed}");

        var documents = files.Select(f => new Document(f, File.ReadAllText(f).Replace("\r\n", "\n"))).ToList();
        if (documents.All(d => string.IsNullOrWhiteSpace(d.Text)))
            throw new EmptyCorpusException($"Corpus is empty (only whitespace) in: {listed}");

        return FromDocuments(NameFor(paths), documents);
    }

    static IEnumerable<string> TextFilesUnder(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(dir, f).Split(Path.DirectorySeparatorChar).Any(p => p.StartsWith('.')))
            .Where(f => TextExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase));

    static string NameFor(string[] paths)
    {
        string joined = string.Join("+", paths.Select(p => Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(Path.GetFullPath(p)))));
        return joined.Length <= 40 ? joined : joined[..40];
    }

    string ComputeHash()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(Train));
        sha.AppendData([0]);
        sha.AppendData(Encoding.UTF8.GetBytes(Validation));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
