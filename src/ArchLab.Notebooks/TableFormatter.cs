using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;

namespace ArchLab.Notebooks;

/// <summary>
/// Shows a sequence of records (or any objects) as a table: one column per public property (per key, for dictionaries), one row per item,
/// as HTML (what Jupyter, VS Code and nbconvert show), markdown (GitHub) and aligned plain text.
/// </summary>
public static class TableFormatter
{
    public const int MaxRows = 200;

    /// <summary>True for sequences worth a table: not strings, not byte blobs.</summary>
    public static bool IsTable(object value) => value is IEnumerable and not string and not byte[];

    public static MimeBundle Format(IEnumerable items)
    {
        var list = items.Cast<object?>().Take(MaxRows + 1).ToList();
        bool truncated = list.Count > MaxRows;
        if (truncated) list.RemoveAt(list.Count - 1);
        var (columns, rows) = Cells(list);
        string note = truncated ? $"(first {MaxRows} rows)" : $"({rows.Count} rows)";
        return new MimeBundle(Plain(columns, rows) + note)
            .Add("text/html", Html(columns, rows) + (truncated ? $"<p><i>first {MaxRows} rows</i></p>\n" : ""))
            .Add("text/markdown", Markdown(columns, rows) + (truncated ? $"\n*first {MaxRows} rows*\n" : ""));
    }

    static (string[] Columns, List<string[]> Rows) Cells(List<object?> items)
    {
        var sample = items.FirstOrDefault(i => i is not null);
        if (sample is null || IsScalar(sample))
            return (["value"], items.Select(i => new[] { FormatCell(i) }).ToList());
        if (sample is DictionaryEntry || IsKeyValuePair(sample.GetType()))
        {
            return (["key", "value"], items.Select(i => i is null ? ["", ""] : new[]
            {
                FormatCell(i.GetType().GetProperty("Key")!.GetValue(i)), FormatCell(i.GetType().GetProperty("Value")!.GetValue(i)),
            }).ToList());
        }
        if (sample is IDictionary)
        {
            // Rows as dictionaries: the keys are the columns (in order of first appearance), for tables whose columns are
            // known only at run time (one per registered architecture).
            var dictionaries = items.Select(i => i as IDictionary).ToList();
            var keys = dictionaries.OfType<IDictionary>().SelectMany(d => d.Keys.Cast<object>()).Distinct().ToArray();
            return (keys.Select(k => FormatCell(k)).ToArray(),
                    dictionaries.Select(d => keys.Select(k => d is not null && d.Contains(k) ? FormatCell(d[k]) : "").ToArray()).ToList());
        }
        var properties = sample.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract").ToArray();
        var rows = items.Select(i => properties.Select(p => i is null || !p.DeclaringType!.IsInstanceOfType(i) ? "" : FormatCell(p.GetValue(i))).ToArray()).ToList();
        return (properties.Select(p => p.Name).ToArray(), rows);
    }

    static bool IsKeyValuePair(Type t) => t.IsGenericType && t.GetGenericTypeDefinition() == typeof(KeyValuePair<,>);

    static bool IsScalar(object value) => value is string or IFormattable or bool or char;

    /// <summary>Numbers with the invariant culture: up to 4 decimals, scientific notation for very large or small magnitudes.</summary>
    public static string FormatCell(object? value) => value switch
    {
        null => "",
        double d => FormatNumber(d),
        float f => FormatNumber(f),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        IEnumerable e and not string => "[" + string.Join(", ", e.Cast<object?>().Take(8).Select(FormatCell)) + "]",
        _ => value.ToString() ?? "",
    };

    static string FormatNumber(double d) =>
        double.IsFinite(d) && d != 0 && (Math.Abs(d) >= 1e6 || Math.Abs(d) < 1e-3)
            ? d.ToString("0.###e+0", CultureInfo.InvariantCulture)
            : d.ToString("0.####", CultureInfo.InvariantCulture);

    static string Markdown(string[] columns, List<string[]> rows)
    {
        static string Escape(string s) => s.Replace("|", "\\|").Replace("\n", " ");
        var text = new StringBuilder();
        text.Append("| ").Append(string.Join(" | ", columns.Select(Escape))).AppendLine(" |");
        text.Append('|').Append(string.Join("|", columns.Select(_ => "---"))).AppendLine("|");
        foreach (var row in rows) text.Append("| ").Append(string.Join(" | ", row.Select(Escape))).AppendLine(" |");
        return text.ToString();
    }

    static string Html(string[] columns, List<string[]> rows)
    {
        static string Cell(string tag, string s) => $"<{tag}>{System.Net.WebUtility.HtmlEncode(s)}</{tag}>";
        var text = new StringBuilder("<table>\n<thead><tr>");
        foreach (string c in columns) text.Append(Cell("th", c));
        text.Append("</tr></thead>\n<tbody>\n");
        foreach (var row in rows) text.Append("<tr>").Append(string.Concat(row.Select(c => Cell("td", c)))).Append("</tr>\n");
        return text.Append("</tbody>\n</table>\n").ToString();
    }

    static string Plain(string[] columns, List<string[]> rows)
    {
        int[] widths = columns.Select((c, j) => rows.Select(r => r[j].Length).Append(c.Length).Max()).ToArray();
        var text = new StringBuilder();
        text.AppendLine(string.Join("  ", columns.Select((c, j) => c.PadRight(widths[j]))).TrimEnd());
        foreach (var row in rows) text.AppendLine(string.Join("  ", row.Select((c, j) => c.PadRight(widths[j]))).TrimEnd());
        return text.ToString();
    }
}
