using System.Runtime.InteropServices;

namespace ArchLab.Studies;

/// <summary>
/// Resident memory of this process from /proc/self/status (Linux): VmRSS now and VmHWM, the high-water mark of VmRSS
/// since the process started. The high-water mark never goes down, so a per-configuration peak needs a fresh process
/// per configuration (see <see cref="TrainingMemory"/>). Both are 0 where /proc is unavailable.
/// </summary>
public static class ProcessMemory
{
    public static long CurrentBytes() => Read("VmRSS:");

    public static long PeakBytes() => Read("VmHWM:");

    /// <summary>
    /// Bytes by which the high-water mark rose above the resident memory while running <paramref name="action"/>: the
    /// peak is first reset to the current resident memory (a GC, glibc's malloc_trim, then /proc/self/clear_refs 5).
    /// Null where the peak cannot be reset (the action still runs). It counts pages touched, so memory reused from the
    /// allocator's free lists is missed: a lower bound on what the action allocated.
    /// </summary>
    public static long? PeakGrowthBytes(Action action)
    {
        long before;
        try
        {
            GC.Collect();
            MallocTrim(0);
            File.WriteAllText("/proc/self/clear_refs", "5");
            before = CurrentBytes();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            action();
            return null;
        }
        action();
        return PeakBytes() - before;
    }

    static long Read(string field)
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path)) return 0;
        foreach (var line in File.ReadLines(path))
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                var parts = line[field.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[0]) * 1024; // kB
            }
        return 0;
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);
}
