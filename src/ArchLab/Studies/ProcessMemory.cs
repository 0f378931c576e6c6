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
}
