using System.Text;
using System.Text.Json;

namespace ArchLab.Scaling;

/// <summary>
/// <c>runs.jsonl</c>: one JSON line per finished run, shared by concurrent workers (local processes or Slurm tasks).
/// Appends hold an exclusive lock on <c>runs.jsonl.lock</c> (flock), skip a run already recorded (no duplicate lines),
/// cut a torn last line left by a killed writer, and write the whole line with one write, flushed to disk.
/// Only the text after the last newline can be a torn write: it is ignored (and cut by the next append) unless it is a
/// whole record, which is kept. Any other line that is not a record is an error naming the line, never skipped: a fit must
/// not quietly leave out a run.
/// </summary>
public sealed class RunsFile(string path)
{
    public string Path { get; } = path;

    /// <summary>Appends <paramref name="result"/> unless its id is already there; true when it was written.</summary>
    public bool Append(RunResult result)
    {
        using var held = Lock();
        if (ReadUnlocked().Any(r => r.Id == result.Id)) return false;
        using var stream = new FileStream(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
        long end = CompleteLength(stream);
        if (end != stream.Length)
        {
            stream.Seek(end, SeekOrigin.Begin);
            var tail = new byte[stream.Length - end];
            stream.ReadExactly(tail);
            if (Parse(Encoding.UTF8.GetString(tail)) is not null) stream.Write("\n"u8); // a whole record without its newline (an edited file): keep it
            else stream.SetLength(end); // the torn line of a killed writer
        }
        stream.Seek(0, SeekOrigin.End);
        stream.Write(Encoding.UTF8.GetBytes(result.ToJsonLine() + "\n"));
        stream.Flush(flushToDisk: true);
        return true;
    }

    /// <summary>The recorded runs (a torn last line is ignored).</summary>
    public IReadOnlyList<RunResult> Read()
    {
        using var held = Lock();
        return ReadUnlocked();
    }

    public HashSet<string> FinishedIds() => Read().Select(r => r.Id).ToHashSet();

    List<RunResult> ReadUnlocked()
    {
        var results = new List<RunResult>();
        if (!File.Exists(Path)) return results;
        var lines = File.ReadAllText(Path).Split('\n');
        for (int i = 0; i < lines.Length - 1; i++) // every line that ends in a newline
        {
            if (string.IsNullOrWhiteSpace(lines[i])) continue;
            try { results.Add(Record(lines[i])); }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{Path}: line {i + 1} is not a run record ({e.Message}); mend or remove it");
            }
        }
        if (Parse(lines[^1]) is { } last) results.Add(last); // text after the last newline: a torn write unless whole
        return results;
    }

    /// <summary>A line as a run record: JSON with an id, else <see cref="JsonException"/>.</summary>
    static RunResult Record(string line) =>
        RunResult.FromJsonLine(line) is { Id.Length: > 0 } run ? run : throw new JsonException("no id");

    /// <summary>A line that may be a torn write: its record, or null.</summary>
    static RunResult? Parse(string line)
    {
        if (string.IsNullOrWhiteSpace(line)) return null;
        try { return Record(line); }
        catch (JsonException) { return null; }
    }

    /// <summary>Length up to and including the last newline.</summary>
    static long CompleteLength(FileStream stream)
    {
        long length = stream.Length;
        var buffer = new byte[1];
        for (long i = length - 1; i >= 0; i--)
        {
            stream.Seek(i, SeekOrigin.Begin);
            stream.ReadExactly(buffer);
            if (buffer[0] == (byte)'\n') return i + 1;
            if (length - i > 1 << 24) break;
        }
        return 0;
    }

    FileStream Lock()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!);
        for (int attempt = 0; ; attempt++)
        {
            try { return new FileStream(Path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (attempt < 6000) { Thread.Sleep(10); }
        }
    }
}
