using System.Text;
using System.Text.RegularExpressions;

namespace ArchLab.Notebooks;

/// <summary>A package a cell asks for with <c>#r "nuget: Name, Version"</c> (version optional).</summary>
public sealed record PackageRequest(string Name, string? Version, int Line);

/// <summary>
/// A code cell's source prepared for Roslyn: <c>#!</c> magic lines and <c>#r "nuget: …"</c> lines become blank lines
/// (so line numbers in errors still match the cell), the packages are listed, and a leading <c>#!fsharp</c>-style magic
/// or Polyglot cell metadata naming another language marks the cell as not C#. <c>#r "…/Name.dll"</c> of an assembly the
/// runner already references (the setup cell's <c>#r</c> of ArchLab's build output, which the kernel needs) becomes a
/// blank line too, so the runner keeps its own copy.
/// </summary>
public sealed partial record CellSource(string Code, IReadOnlyList<PackageRequest> Packages, string Language)
{
    static readonly string[] CSharpNames = ["csharp", "c#", "cs"];

    public bool IsCSharp => CSharpNames.Contains(Language, StringComparer.OrdinalIgnoreCase);
    public bool IsBlank => string.IsNullOrWhiteSpace(Code);

    public static CellSource Parse(string source, string? metadataLanguage = null, IReadOnlySet<string>? providedAssemblies = null)
    {
        var code = new StringBuilder();
        var packages = new List<PackageRequest>();
        string language = metadataLanguage ?? "csharp";
        bool seenCode = false;
        string[] lines = source.Replace("\r\n", "\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            string trimmed = line.Trim();
            if (trimmed.StartsWith("#!"))
            {
                // A magic naming a kernel before any code sets the cell's language (#!csharp, #!fsharp, #!pwsh, …).
                string magic = trimmed[2..].Split(' ', 2)[0];
                if (!seenCode && KernelMagics.Contains(magic, StringComparer.OrdinalIgnoreCase)) language = magic;
                line = "";
            }
            else if (NuGetReference().Match(trimmed) is { Success: true } m)
            {
                string[] parts = m.Groups["spec"].Value.Split(',', 2, StringSplitOptions.TrimEntries);
                if (parts[0].Length == 0) throw new ArgumentException($"line {i + 1}: '#r \"nuget: …\"' names no package");
                packages.Add(new PackageRequest(parts[0], parts.Length > 1 && parts[1].Length > 0 ? parts[1] : null, i + 1));
                line = "";
            }
            else if (FileReference().Match(trimmed) is { Success: true } r && providedAssemblies is not null &&
                     providedAssemblies.Contains(Path.GetFileNameWithoutExtension(r.Groups["path"].Value)))
            {
                line = "";
            }
            else if (trimmed.Length > 0) seenCode = true;
            code.Append(line);
            if (i + 1 < lines.Length) code.Append('\n');
        }
        return new CellSource(code.ToString(), packages, language);
    }

    static readonly string[] KernelMagics =
        ["csharp", "c#", "cs", "fsharp", "f#", "fs", "pwsh", "powershell", "javascript", "js", "html", "markdown", "md", "sql", "kql", "mermaid", "value", "python"];

    [GeneratedRegex("""^#r\s+"(?<path>[^"]+\.dll)"\s*$""", RegexOptions.IgnoreCase)]
    private static partial Regex FileReference();

    [GeneratedRegex("""^#r\s+"nuget:\s*(?<spec>[^"]*)"\s*$""", RegexOptions.IgnoreCase)]
    private static partial Regex NuGetReference();
}
