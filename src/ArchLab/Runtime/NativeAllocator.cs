using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ArchLab.Runtime;

/// <summary>
/// glibc's malloc settings for libtorch's CPU tensors, applied once when ArchLab's assembly loads (Linux only).
/// By default glibc hands blocks of 128 KiB and up straight to mmap and back to the kernel when they are freed, raising
/// that threshold as it goes: so a training step's activations are often fresh pages, and each first touch is a page
/// fault (8 % of a dim-256 training step's samples under `perf`, most inside libtorch's elementwise kernels), and how
/// often depends on the history of the process. Here blocks up to 32 MiB (glibc's largest threshold) come from the heap,
/// and freed memory stays with the process (trim threshold 4 GiB) for the next step to reuse.
/// Measured with `./archlab bench train --dim 256 --threads 2` (2026-12-05, AVX-512 BF16 machine, everything else stopped,
/// the same settings given as MALLOC_* environment variables): 8.0–9.5k bf16 tok/s against 6.7–9.1k, float32 4.8–5.0k
/// against 4.1–4.7k. (Raising the trim threshold alone turns glibc's adaptive threshold off and leaves every block over
/// 128 KiB to mmap: 1.1k tok/s. So both are set.) ARCHLAB_DEFAULT_MALLOC=1 leaves glibc's defaults, to compare.
/// Peak-memory studies are not changed in kind: they reset and read the kernel's high-water mark, and
/// <see cref="Studies.ProcessMemory"/> trims the heap before it measures.
/// </summary>
public static class NativeAllocator
{
    const int TrimThreshold = -1, MmapThreshold = -3;   // mallopt parameters (malloc.h)
    const int HeapBlocksUpTo = 32 << 20;                // DEFAULT_MMAP_THRESHOLD_MAX on 64-bit glibc
    const int KeepFreed = int.MaxValue;

    /// <summary>Whether the settings were applied (false off Linux or where the C library has no mallopt).</summary>
    public static bool Applied { get; private set; }

#pragma warning disable CA2255 // a module initializer is the one place that runs before any tensor is allocated
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Apply()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("ARCHLAB_DEFAULT_MALLOC") == "1") return;
        try
        {
            Applied = Mallopt(MmapThreshold, HeapBlocksUpTo) == 1 & Mallopt(TrimThreshold, KeepFreed) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int Mallopt(int parameter, int value);
}
