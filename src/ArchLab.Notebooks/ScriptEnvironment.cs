using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;

namespace ArchLab.Notebooks;

/// <summary>The references and usings every notebook starts with: ArchLab, TorchSharp, Plotly.NET (+ C# API) and .NET.</summary>
public static class ScriptEnvironment
{
    public static readonly string[] Usings =
    [
        "System", "System.IO", "System.Linq", "System.Text", "System.Collections.Generic", "System.Diagnostics",
        "System.Threading", "System.Threading.Tasks", "System.Globalization",
        "TorchSharp", "TorchSharp.torch",
        "ArchLab.Models", "ArchLab.Mixers", "ArchLab.Training", "ArchLab.Data", "ArchLab.Inference", "ArchLab.Reporting",
        "ArchLab.Runtime", "ArchLab.Checkpoints", "ArchLab.Studies", "ArchLab.Notebooks.Display",
        "Plotly.NET.CSharp", "ArchLab.Notebooks.NotebookGlobals",
    ];

    /// <summary>Declared by the runner before the first cell (aliases cannot be given as imports).</summary>
    public const string Prelude = "using GenericChart = Plotly.NET.GenericChart;\n";

    public static ScriptOptions Create(string notebookDir)
    {
        var assemblies = new HashSet<Assembly>
        {
            typeof(object).Assembly, typeof(Enumerable).Assembly, typeof(Console).Assembly, typeof(System.Collections.Generic.List<>).Assembly,
            typeof(System.Text.Json.JsonSerializer).Assembly, typeof(System.Diagnostics.Stopwatch).Assembly,
            typeof(ArchLab.Models.LanguageModel).Assembly, typeof(TorchSharp.torch).Assembly,
            typeof(Plotly.NET.GenericChart).Assembly, typeof(Plotly.NET.CSharp.Chart).Assembly,
            typeof(Microsoft.FSharp.Core.FSharpOption<>).Assembly, typeof(NotebookGlobals).Assembly,
        };
        foreach (var name in typeof(ArchLab.Models.LanguageModel).Assembly.GetReferencedAssemblies())
        {
            try { assemblies.Add(Assembly.Load(name)); } catch (FileNotFoundException) { }
        }
        var references = assemblies.Where(a => !a.IsDynamic && a.Location.Length > 0)
            .Select(a => (MetadataReference)MetadataReference.CreateFromFile(a.Location))
            .Concat(FrameworkReferences());
        return ScriptOptions.Default
            .WithReferences(references)
            .WithImports(Usings)
            .WithMetadataResolver(ScriptMetadataResolver.Default.WithBaseDirectory(notebookDir))
            .WithSourceResolver(new SourceFileResolver([], notebookDir))
            .WithEmitDebugInformation(true)
            .WithAllowUnsafe(true)
            .WithLanguageVersion(Microsoft.CodeAnalysis.CSharp.LanguageVersion.Preview);
    }

    /// <summary>The simple names of the assemblies every notebook already references (ArchLab, TorchSharp, …).</summary>
    public static IReadOnlySet<string> ReferencedAssemblyNames(ScriptOptions options) =>
        options.MetadataReferences.OfType<PortableExecutableReference>().Select(r => Path.GetFileNameWithoutExtension(r.FilePath))
            .OfType<string>().ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>The .NET facade assemblies (System.Runtime, netstandard, …) that compiled code binds to.</summary>
    static IEnumerable<MetadataReference> FrameworkReferences()
    {
        string tpa = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "";
        return tpa.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => Path.GetFileName(p) is string f && (f.StartsWith("System.") || f is "netstandard.dll" or "mscorlib.dll" or "Microsoft.CSharp.dll"))
            .Where(p => Path.GetDirectoryName(p) != AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p));
    }
}
