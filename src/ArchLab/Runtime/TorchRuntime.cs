using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Runtime;

/// <summary>Device and dtype settings, parsed from the strings users type (never hard-coded elsewhere).</summary>
public static class TorchRuntime
{
    /// <summary>"cpu", "cuda", "cuda:1"; "auto" picks CUDA when libtorch sees a GPU.</summary>
    public static Device ParseDevice(string name)
    {
        string n = name.Trim().ToLowerInvariant();
        if (n == "auto") return cuda.is_available() ? CUDA : CPU;
        if (n == "cpu") return CPU;
        if (n.StartsWith("cuda"))
        {
            if (!cuda.is_available())
                throw new ArgumentException($"device '{name}': CUDA is not available (this build uses the CPU libtorch package; install a libtorch-cuda package to use a GPU)");
            return new Device(n);
        }
        throw new ArgumentException($"unknown device '{name}' (use cpu, cuda, cuda:N or auto)");
    }

    public static ScalarType ParseDtype(string name) => name.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" => ScalarType.Float32,
        "float64" or "fp64" or "f64" => ScalarType.Float64,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        _ => throw new ArgumentException($"unknown dtype '{name}' (use float32, float64 or bfloat16)"),
    };

    /// <summary>Intra-op threads; 0 leaves libtorch's default (all cores).</summary>
    /// <exception cref="ArgumentException"><paramref name="threads"/> is negative.</exception>
    public static void SetThreads(int threads)
    {
        if (threads < 0) throw new ArgumentException($"--threads must be 0 (all cores) or a positive count, got {threads}");
        if (threads > 0) torch.set_num_threads(threads);
    }
}
