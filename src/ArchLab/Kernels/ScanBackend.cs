namespace ArchLab.Kernels;

/// <summary>Which implementation runs a scan kernel (<see cref="SelectiveScan"/>, <see cref="Wkv4"/>, and the recurrences of
/// <see cref="Mixers.Mamba2"/>, <see cref="Mixers.Rwkv7TimeMix"/> and <see cref="Mixers.GatedDeltaNet"/>); one setting for every op.</summary>
public enum ScanBackend
{
    /// <summary>ILGPU's CUDA kernels for CUDA tensors (when ILGPU finds a CUDA device), the fused CPU kernel where it supports
    /// the tensors (CPU, float32/float64), otherwise the reference.</summary>
    Auto,
    /// <summary>The tensor-op loops in <c>Kernels/Reference</c> (the oracle; autograd through the ops), on any device and dtype.</summary>
    Reference,
    /// <summary>The fused CPU kernels in <c>Kernels/Cpu</c>; tensors they cannot run are an error, not a silent fallback.
    /// Mamba-2, RWKV-7 and Gated DeltaNet have no fused CPU kernel: their chunked tensor-op forms (matmuls) are the CPU path,
    /// so cpu runs those, as reference does.</summary>
    Cpu,
    /// <summary>ILGPU kernels (<c>Kernels/Gpu</c>) on ILGPU's CUDA accelerator when a CUDA device exists, otherwise on its
    /// CPU accelerator (correct but hundreds of times slower: for tests). float32/float64 only.</summary>
    Ilgpu,
}

/// <summary>Parsing and the process-wide default of <see cref="ScanBackend"/> (environment variable ARCHLAB_SCAN_BACKEND).</summary>
public static class ScanBackends
{
    public const string EnvironmentVariable = "ARCHLAB_SCAN_BACKEND";

    public static readonly string[] Names = ["auto", "reference", "cpu", "ilgpu"];

    /// <summary>The process-wide backend of every scan op (a layer's <see cref="Mixers.Mixer.ScanBackend"/> overrides it);
    /// initial value from ARCHLAB_SCAN_BACKEND, default auto.</summary>
    public static ScanBackend Default { get; set; } = FromEnvironment();

    /// <summary>auto | reference (ref) | cpu | ilgpu, any case; anything else is an <see cref="ArgumentException"/>.</summary>
    public static ScanBackend Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "auto" => ScanBackend.Auto,
        "reference" or "ref" => ScanBackend.Reference,
        "cpu" => ScanBackend.Cpu,
        "ilgpu" => ScanBackend.Ilgpu,
        _ => throw new ArgumentException($"unknown scan backend '{name}' ({string.Join(" | ", Names)})"),
    };

    /// <summary>The value of ARCHLAB_SCAN_BACKEND, or auto when it is unset or empty (a bad value is an error).</summary>
    public static ScanBackend FromEnvironment() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } value ? Parse(value) : ScanBackend.Auto;

    /// <summary>Throws the one-line error for a backend this build cannot run (every backend runs in this build; kept so
    /// the CLI validates a backend before a long run starts).</summary>
    public static void EnsureAvailable(ScanBackend backend)
    {
        if (!Enum.IsDefined(backend)) throw new ArgumentException($"unknown scan backend {(int)backend}");
    }

    /// <summary>True when <paramref name="backend"/> should run ILGPU's kernels on tensors living on <paramref name="device"/>:
    /// always for <see cref="ScanBackend.Ilgpu"/>, and for <see cref="ScanBackend.Auto"/> on CUDA tensors when ILGPU has CUDA.
    /// ILGPU's kernels take float32 or float64: another dtype is an error for ilgpu and a fallback for auto.</summary>
    public static bool UsesIlgpu(ScanBackend backend, TorchSharp.torch.Tensor input, string op)
    {
        bool supported = input.dtype is TorchSharp.torch.ScalarType.Float32 or TorchSharp.torch.ScalarType.Float64;
        if (backend == ScanBackend.Ilgpu && !supported)
            throw new ArgumentException($"{op}: the ilgpu backend needs float32 or float64 tensors, got {input.dtype}");
        return supported && (backend == ScanBackend.Ilgpu ||
            (backend == ScanBackend.Auto && input.device.type == TorchSharp.DeviceType.CUDA && Gpu.IlgpuScans.Shared.IsCuda));
    }

    /// <summary>Name as written on the command line.</summary>
    public static string Name(this ScanBackend backend) => Names[(int)backend];
}
