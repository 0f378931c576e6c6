namespace ArchLab.Kernels;

/// <summary>Which implementation runs a scan kernel (<see cref="SelectiveScan"/>, <see cref="Wkv4"/>); one setting for every op.</summary>
public enum ScanBackend
{
    /// <summary>The fused CPU kernel where it supports the tensors (CPU, float32/float64), otherwise the reference.</summary>
    Auto,
    /// <summary>The tensor-op loops in <c>Kernels/Reference</c> (the oracle; autograd through the ops), on any device and dtype.</summary>
    Reference,
    /// <summary>The fused CPU kernels in <c>Kernels/Cpu</c>; tensors they cannot run are an error, not a silent fallback.</summary>
    Cpu,
    /// <summary>ILGPU kernels (<c>Kernels/Gpu</c>): not available in this build yet (selecting it is an error).</summary>
    Ilgpu,
}

/// <summary>Parsing and the process-wide default of <see cref="ScanBackend"/> (environment variable ARCHLAB_SCAN_BACKEND).</summary>
public static class ScanBackends
{
    public const string EnvironmentVariable = "ARCHLAB_SCAN_BACKEND";

    public static readonly string[] Names = ["auto", "reference", "cpu", "ilgpu"];

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

    /// <summary>Throws the one-line error for a backend this build cannot run (ilgpu until its kernels are wired in).</summary>
    public static void EnsureAvailable(ScanBackend backend)
    {
        if (backend == ScanBackend.Ilgpu)
            throw new ArgumentException("scan backend 'ilgpu' is not available in this build (use auto, reference or cpu)");
    }

    /// <summary>Name as written on the command line.</summary>
    public static string Name(this ScanBackend backend) => Names[(int)backend];
}
