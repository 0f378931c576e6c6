using System.Globalization;
using System.Text;
using ArchLab.IO;

namespace ArchLab.Reporting;

/// <summary>
/// A small CSV writer for study results: a header, rows of cells formatted with the invariant culture, written atomically.
/// Lines starting with '#' before the header record the command that made the file.
/// </summary>
public sealed class CsvTable
{
    readonly string[] _columns;
    readonly List<string[]> _rows = new();
    readonly List<string> _comments = new();

    public CsvTable(params string[] columns)
    {
        if (columns.Length == 0) throw new ArgumentException("A CSV table needs at least one column.", nameof(columns));
        _columns = columns;
    }

    public IReadOnlyList<string> Columns => _columns;
    public int RowCount => _rows.Count;

    /// <summary>Adds a comment line (for example "# command: ./archlab bench scan") written above the header.</summary>
    public CsvTable Comment(string text) { _comments.Add(text); return this; }

    public void Add(params object?[] cells)
    {
        if (cells.Length != _columns.Length)
            throw new ArgumentException($"Row has {cells.Length} cells but the table has {_columns.Length} columns.");
        _rows.Add(cells.Select(Format).ToArray());
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (string comment in _comments) text.Append("# ").AppendLine(comment);
        text.AppendLine(string.Join(',', _columns.Select(Quote)));
        foreach (string[] row in _rows) text.AppendLine(string.Join(',', row.Select(Quote)));
        return text.ToString();
    }

    public void Save(string path)
    {
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(path, ToString());
    }

    static string Format(object? cell) => cell switch
    {
        null => "",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => cell.ToString() ?? "",
    };

    static string Quote(string cell) =>
        cell.IndexOfAny(new[] { ',', '"', '\n', '\r' }) >= 0 ? "\"" + cell.Replace("\"", "\"\"") + "\"" : cell;
}
