using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ArchLab.Engine;

/// <summary>
/// The CPU's SIMD features as the engine sees them at run time (machines of one kind differ: some have AVX-512 with BF16,
/// some AVX2 only), printed beside every benchmark figure.
/// </summary>
public static class SimdInfo
{
    /// <summary>The vector width the engine's kernels use here.</summary>
    public static string KernelWidth => Simd.Wide ? "Vector512" : Simd.Narrow ? "Vector256" : "scalar";

    /// <summary>One line, e.g. "x64, 2 cores; engine kernels Vector512; AVX-512F yes, AVX2 yes, FMA yes, AVX-512 BF16 yes (…)".</summary>
    public static string Describe()
    {
        var flags = CpuFlags();
        string Yes(bool b) => b ? "yes" : "no";
        bool bf16 = flags.Contains("avx512_bf16");
        return $"{RuntimeInformation.ProcessArchitecture}, {Environment.ProcessorCount} cores, {CpuModel()}; engine kernels {KernelWidth}; " +
               $"AVX-512F {Yes(Avx512F.IsSupported)}, AVX2 {Yes(Avx2.IsSupported)}, FMA {Yes(Fma.IsSupported)}, AVX-VNNI {Yes(AvxVnni.IsSupported)}, " +
               $"AVX-512 BF16 {Yes(bf16)}{(bf16 ? " (in /proc/cpuinfo; .NET 10 has no intrinsic for it, bf16 weights are widened in registers)" : "")}";
    }

    /// <summary>The machine in a few words, for records that outlive the run (a sweep's runs.jsonl): CPU model, logical
    /// cores and the widest vector extension, e.g. "Intel(R) Xeon(R) Processor, 2 cores, AVX-512 with BF16".</summary>
    public static string Machine()
    {
        string widest = Avx512F.IsSupported ? (CpuFlags().Contains("avx512_bf16") ? "AVX-512 with BF16" : "AVX-512")
                        : Avx2.IsSupported ? "AVX2" : $"{RuntimeInformation.ProcessArchitecture} without AVX2";
        return $"{CpuModel()}, {Environment.ProcessorCount} cores, {widest}";
    }

    static HashSet<string> CpuFlags()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags"));
            return line is null ? [] : [.. line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        }
        catch (IOException) { return []; }
        catch (UnauthorizedAccessException) { return []; }
    }

    static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"));
            return line is null ? "unknown CPU" : line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { return "unknown CPU"; }
        catch (UnauthorizedAccessException) { return "unknown CPU"; }
    }
}
