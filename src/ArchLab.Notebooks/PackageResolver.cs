using System.Reflection;
using System.Text.Json;
using System.Xml.Linq;

namespace ArchLab.Notebooks;

/// <summary>A <c>#r "nuget: …"</c> the runner cannot satisfy; the message names the package.</summary>
public sealed class PackageResolutionException(string message) : Exception(message);

/// <summary>
/// Resolves <c>#r "nuget: Name, Version"</c> without a feed: a package the app itself carries (listed in its
/// <c>.deps.json</c>) resolves to the app's own copy; any other must already be restored in the NuGet packages folder
/// (<c>NUGET_PACKAGES</c>, else <c>~/.nuget/packages</c>), and so must its dependencies (read from its .nuspec).
/// </summary>
public sealed class PackageResolver
{
    static readonly string[] FrameworkPreference =
        ["net10.0", "net9.0", "net8.0", "net7.0", "net6.0", "net5.0", "netcoreapp3.1", "netcoreapp3.0", "netcoreapp2.1",
         "netstandard2.1", "netstandard2.0", "netstandard1.6", "netstandard1.3", "netstandard1.1", "netstandard1.0"];

    readonly Dictionary<string, AppPackage> appPackages;
    readonly HashSet<string> frameworkAssemblies;

    public string PackagesRoot { get; }

    sealed record AppPackage(string Version, string[] Assemblies);

    public PackageResolver(string? packagesRoot = null, string? depsJsonPath = null)
    {
        string? fromEnv = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        PackagesRoot = packagesRoot
            ?? (string.IsNullOrEmpty(fromEnv) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages") : fromEnv);
        appPackages = ReadDepsJson(depsJsonPath ?? DefaultDepsJson());
        string runtimeDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        frameworkAssemblies = Directory.GetFiles(runtimeDir, "*.dll")
            .Select(Path.GetFileNameWithoutExtension).OfType<string>().ToHashSet(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The assembly files to reference for a package and its dependencies.</summary>
    public IReadOnlyList<string> Resolve(string name, string? version, List<string>? notes = null)
    {
        var files = new List<string>();
        Resolve(name, version, requiredBy: null, files, new HashSet<string>(StringComparer.OrdinalIgnoreCase), notes);
        return files.Distinct().ToList();
    }

    void Resolve(string name, string? version, string? requiredBy, List<string> files, HashSet<string> seen, List<string>? notes)
    {
        if (!seen.Add(name)) return;
        string who = requiredBy is null ? "" : $" (needed by {requiredBy})";
        if (appPackages.TryGetValue(name, out var app))
        {
            if (version is not null && requiredBy is null && !SameVersion(version, app.Version))
                notes?.Add($"#r \"nuget: {name}, {version}\": ArchLab carries {name} {app.Version}; using that");
            files.AddRange(app.Assemblies);
            return;
        }
        if (requiredBy is not null && frameworkAssemblies.Contains(name)) return; // part of .NET itself

        string packageDir = Path.Combine(PackagesRoot, name.ToLowerInvariant());
        string[] available = Directory.Exists(packageDir)
            ? Directory.GetDirectories(packageDir).Select(Path.GetFileName).OfType<string>().ToArray()
            : [];
        if (available.Length == 0)
            throw new PackageResolutionException(
                $"package '{name}'{who} is not available: ArchLab does not carry it and it is not restored in {PackagesRoot} " +
                "(restore it once, e.g. by a PackageReference in a project, then run again)");
        string chosen;
        if (version is null) chosen = available.OrderBy(ParseVersion).Last();
        else if (requiredBy is null)
            chosen = available.FirstOrDefault(v => SameVersion(v, version))
                     ?? throw new PackageResolutionException(
                         $"package '{name}' version {version} is not restored in {PackagesRoot} (restored: {string.Join(", ", available)})");
        else
        {
            // a dependency's version is a minimum (NuGet picks the lowest applicable version)
            var minimum = ParseVersion(MinimumOfRange(version));
            chosen = available.Where(v => ParseVersion(v).CompareTo(minimum) >= 0).OrderBy(ParseVersion).FirstOrDefault()
                     ?? throw new PackageResolutionException(
                         $"package '{name}' {version}{who} is not restored in {PackagesRoot} (restored: {string.Join(", ", available)})");
        }

        string root = Path.Combine(packageDir, chosen);
        string? lib = BestFrameworkFolder(Path.Combine(root, "lib"));
        if (lib is not null) files.AddRange(Directory.GetFiles(lib, "*.dll"));
        foreach (var (dependency, range) in Dependencies(root, name))
            Resolve(dependency, range, $"{name} {chosen}", files, seen, notes);
    }

    static string? BestFrameworkFolder(string libDir)
    {
        if (!Directory.Exists(libDir)) return null;
        foreach (string tfm in FrameworkPreference)
        {
            string candidate = Path.Combine(libDir, tfm);
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>The dependencies the .nuspec lists for the best-matching target framework group.</summary>
    static IEnumerable<(string Id, string Range)> Dependencies(string packageRoot, string name)
    {
        string? nuspec = Directory.GetFiles(packageRoot, "*.nuspec").FirstOrDefault();
        if (nuspec is null) return [];
        var doc = XDocument.Load(nuspec);
        var deps = doc.Descendants().Where(e => e.Name.LocalName == "dependencies").FirstOrDefault();
        if (deps is null) return [];
        var groups = deps.Elements().Where(e => e.Name.LocalName == "group").ToList();
        IEnumerable<XElement> chosen;
        if (groups.Count == 0) chosen = deps.Elements().Where(e => e.Name.LocalName == "dependency");
        else
        {
            var byFramework = groups.ToDictionary(g => NormalizeFramework((string?)g.Attribute("targetFramework") ?? ""), g => g);
            var group = FrameworkPreference.Select(f => byFramework.GetValueOrDefault(f)).FirstOrDefault(g => g is not null)
                        ?? byFramework.GetValueOrDefault("");
            chosen = group?.Elements().Where(e => e.Name.LocalName == "dependency") ?? [];
        }
        return chosen.Select(d => ((string?)d.Attribute("id") ?? "", (string?)d.Attribute("version") ?? "0.0.0"))
                     .Where(d => d.Item1.Length > 0).ToList();
    }

    /// <summary>".NETStandard2.0" → "netstandard2.0", "net8.0" stays, ".NETCoreApp3.1" → "netcoreapp3.1".</summary>
    static string NormalizeFramework(string tfm)
    {
        string t = tfm.Trim().ToLowerInvariant();
        if (t.StartsWith(".netstandard")) return "netstandard" + t[".netstandard".Length..];
        if (t.StartsWith(".netcoreapp")) return "netcoreapp" + t[".netcoreapp".Length..];
        if (t.StartsWith("net") && t.Length > 3 && char.IsDigit(t[3]) && t.Contains('.')) return t;
        return t;
    }

    static string MinimumOfRange(string range) => range.Trim().TrimStart('[', '(').Split(',')[0].TrimEnd(']', ')').Trim() is { Length: > 0 } v ? v : "0.0.0";

    static bool SameVersion(string a, string b) => ParseVersion(a).CompareTo(ParseVersion(b)) == 0 &&
                                                   string.Equals(Suffix(a), Suffix(b), StringComparison.OrdinalIgnoreCase);

    static string Suffix(string v) => v.Contains('-') ? v[(v.IndexOf('-') + 1)..] : "";

    static Version ParseVersion(string v)
    {
        string core = v.Split('-', '+')[0];
        var parts = core.Split('.').Select(p => int.TryParse(p, out int n) ? n : 0).Concat([0, 0, 0, 0]).Take(4).ToArray();
        return new Version(parts[0], parts[1], parts[2], parts[3]);
    }

    static string? DefaultDepsJson()
    {
        string? entry = Assembly.GetEntryAssembly()?.GetName().Name;
        if (entry is null) return null;
        string path = Path.Combine(AppContext.BaseDirectory, entry + ".deps.json");
        return File.Exists(path) ? path : null;
    }

    /// <summary>Packages in the app's deps.json with the runtime assemblies they placed in the app folder.</summary>
    static Dictionary<string, AppPackage> ReadDepsJson(string? path)
    {
        var result = new Dictionary<string, AppPackage>(StringComparer.OrdinalIgnoreCase);
        if (path is null || !File.Exists(path)) return result;
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        if (!doc.RootElement.TryGetProperty("targets", out var targets)) return result;
        string baseDir = Path.GetDirectoryName(path)!;
        foreach (var target in targets.EnumerateObject())
            foreach (var library in target.Value.EnumerateObject())
            {
                string[] nameVersion = library.Name.Split('/', 2);
                if (nameVersion.Length != 2 || result.ContainsKey(nameVersion[0])) continue;
                var assemblies = library.Value.TryGetProperty("runtime", out var runtime)
                    ? runtime.EnumerateObject().Select(r => Path.Combine(baseDir, Path.GetFileName(r.Name))).Where(File.Exists).ToArray()
                    : [];
                result[nameVersion[0]] = new AppPackage(nameVersion[1], assemblies);
            }
        return result;
    }
}
