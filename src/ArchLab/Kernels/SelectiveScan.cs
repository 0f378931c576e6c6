using ArchLab.Kernels.Cpu;
using ArchLab.Kernels.Reference;
using static TorchSharp.torch;

namespace ArchLab.Kernels;

/// <summary>Which implementation runs the selective scan.</summary>
public enum SelectiveScanBackend
{
    /// <summary>The fused CPU kernel for contiguous-able float32/float64 CPU tensors; the reference for anything else.</summary>
    Auto,
    /// <summary>The tensor-op loop (<see cref="SelectiveScanReference"/>) always.</summary>
    Reference,
}

/// <summary>
/// The selective scan shared by every backend (Mamba v1, Gu &amp; Dao 2023, eq. 2a–2b with ZOH Ā and Euler B̄):
/// <code>
///   h_t = exp(Δ_t A) ⊙ h_{t−1} + (Δ_t x_t) B_tᵀ      per (b, e): h ∈ ℝ^N
///   y_t = h_t · C_t                                   (no D skip, no gate)
/// </code>
/// Shapes: x, Δ [B,T,E] (x after conv+SiLU, Δ after softplus), A [E,N], B, C [B,T,N], h0 [B,E,N] or null (zeros).
/// Returns y [B,T,E] and the final state h_T [B,E,N]; differentiable in every input.
/// </summary>
public static class SelectiveScan
{
    /// <summary>Process-wide backend; initial value from ARCHLAB_SCAN_BACKEND (auto | reference), default auto.</summary>
    public static SelectiveScanBackend Backend { get; set; } =
        Environment.GetEnvironmentVariable("ARCHLAB_SCAN_BACKEND")?.Trim().ToLowerInvariant() switch
        {
            "reference" => SelectiveScanBackend.Reference,
            _ => SelectiveScanBackend.Auto,
        };

    public static SelectiveScanBackend Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "auto" or "cpu" => SelectiveScanBackend.Auto,
        "reference" or "ref" => SelectiveScanBackend.Reference,
        _ => throw new ArgumentException($"unknown selective-scan backend '{name}' (auto | reference)"),
    };

    public static (Tensor Y, Tensor Last) Forward(Tensor x, Tensor delta, Tensor a, Tensor bIn, Tensor cIn, Tensor? h0 = null) =>
        Forward(x, delta, a, bIn, cIn, h0, Backend);

    public static (Tensor Y, Tensor Last) Forward(Tensor x, Tensor delta, Tensor a, Tensor bIn, Tensor cIn, Tensor? h0,
                                                 SelectiveScanBackend backend)
    {
        if (backend == SelectiveScanBackend.Auto && SelectiveScanCpu.Supports(x, delta, a, bIn, cIn, h0))
            return SelectiveScanCpu.Forward(x, delta, a, bIn, cIn, h0);
        return SelectiveScanReference.Forward(x, delta, a, bIn, cIn, h0);
    }
}
