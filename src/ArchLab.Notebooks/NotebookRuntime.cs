using System.Runtime;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace ArchLab.Notebooks;

/// <summary>
/// The one call a notebook's setup cell makes, in either host: it resolves ArchLab's dependencies from its own build
/// folder, loads libtorch's native libraries, turns concurrent GC off, sets libtorch's thread count, and (in the kernel)
/// makes <see cref="NotebookGlobals"/> work. Prints one line saying what it set.
/// </summary>
public static class NotebookRuntime
{
    /// <summary>Environment variable: "1" or "true" makes <see cref="NotebookGlobals.Quick"/> true.</summary>
    public const string QuickVariable = "ARCHLAB_QUICK";
    /// <summary>Environment variable: libtorch threads when <see cref="Prepare"/> is not given a count.</summary>
    public const string ThreadsVariable = "ARCHLAB_THREADS";

    static bool resolverInstalled;

    /// <summary><see cref="QuickVariable"/> as a boolean.</summary>
    public static bool QuickFromEnvironment() =>
        Environment.GetEnvironmentVariable(QuickVariable)?.Trim().ToLowerInvariant() is "1" or "true" or "yes";

    /// <summary>Prepares the runtime; <paramref name="threads"/> 0 takes <c>ARCHLAB_THREADS</c>, else leaves libtorch's
    /// default (all cores) or what the runner's <c>--threads</c> set.</summary>
    public static void Prepare(int threads = 0)
    {
        ResolveFromArchLabFolder();
        PrepareRuntime(threads);
    }

    /// <summary>ArchLab's dependencies (TorchSharp, tokenizers, …) load from the folder ArchLab was loaded from, in hosts
    /// that only know the assemblies named by <c>#r</c>. An assembly already loaded (the kernel loads <c>#r</c> files in
    /// its own way) is reused, never loaded twice; FSharp.Core is left to the host: a kernel has its own.</summary>
    static void ResolveFromArchLabFolder()
    {
        if (resolverInstalled) return;
        resolverInstalled = true;
        string folder = Path.GetDirectoryName(typeof(NotebookRuntime).Assembly.Location)!;
        AssemblyLoadContext.Default.Resolving += (context, name) =>
        {
            if (AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == name.Name) is { } loaded) return loaded;
            string candidate = Path.Combine(folder, name.Name + ".dll");
            return name.Name != "FSharp.Core" && File.Exists(candidate) ? context.LoadFromAssemblyPath(candidate) : null;
        };
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // TorchSharp resolves only after the handler above is in place
    static void PrepareRuntime(int threads)
    {
        LoadTorchNatives();
        // TorchSharp 0.107's Scalar lifetime race shows up with background GC (README "Platform"): Batch turns it off
        // in a running process, where runtimeconfig's ConcurrentGarbageCollection cannot reach (the kernel's own).
        GCSettings.LatencyMode = GCLatencyMode.Batch;
        if (threads <= 0 && int.TryParse(Environment.GetEnvironmentVariable(ThreadsVariable), out int fromEnv)) threads = fromEnv;
        ArchLab.Runtime.TorchRuntime.SetThreads(threads);

        string host = "archlab notebook run";
        if (!NotebookGlobals.HasHost && KernelHost.IsKernelProcess())
        {
            string notebookDir = Environment.CurrentDirectory; // Jupyter and VS Code start the kernel in the notebook's folder
            string folder = Directory.CreateTempSubdirectory("archlab-kernel-").FullName;
            AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(folder, true); } catch (IOException) { } };
            var formatter = new DisplayFormatter(new ChartOutput(notebookDir, null, folder));
            NotebookGlobals.UseForProcess(new KernelHost(formatter, QuickFromEnvironment(), notebookDir, folder));
            host = ".NET Interactive kernel";
        }
        else if (!NotebookGlobals.HasHost)
            throw new InvalidOperationException("NotebookRuntime.Prepare() runs in a notebook: the .NET Interactive kernel or `archlab notebook run`");

        string gen0 = Environment.GetEnvironmentVariable("DOTNET_GCgen0size") ?? "not set (run `./archlab notebook setup` to add it to the kernel)";
        Console.WriteLine($"ArchLab ready in the {host}: Quick = {NotebookGlobals.Quick}, libtorch threads {TorchSharp.torch.get_num_threads()}, " +
                          $"concurrent GC off, DOTNET_GCgen0size {gen0}");
    }

    /// <summary>
    /// libtorch, then TorchSharp's (patched, see build/PatchGlibcxx.targets) libLibTorchSharp, from the build output's
    /// runtimes folder: a host that did not start from ArchLab's deps.json (the kernel) does not find them itself, and
    /// TorchSharp then fails with "doesn't contain a reference to libtorch-cpu-linux-x64".
    /// </summary>
    static void LoadTorchNatives()
    {
        if (!OperatingSystem.IsLinux()) return;
        string folder = Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location)!;
        string native = Path.Combine(folder, "runtimes", "linux-x64", "native");
        foreach (string library in new[] { "libtorch.so", "libLibTorchSharp.so" })
        {
            string path = Path.Combine(native, library);
            if (File.Exists(path)) NativeLibrary.Load(path);
        }
    }
}
