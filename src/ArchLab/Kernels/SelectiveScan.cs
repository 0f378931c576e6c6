using ArchLab.Kernels.Cpu;
using ArchLab.Kernels.Reference;
using static TorchSharp.torch;

namespace ArchLab.Kernels;

/// <summary>
/// The selective scan shared by every backend (Mamba v1, Gu &amp; Dao 2023, eq. 2a–2b with ZOH Ā and Euler B̄):
/// <code>
///   h_t = exp(Δ_t A) ⊙ h_{t−1} + (Δ_t x_t) B_tᵀ      per (b, e): h ∈ ℝ^N
///   y_t = h_t · C_t                                   (no D skip, no gate)
/// </code>
/// Shapes: x, Δ [B,T,E] (x after conv+SiLU, Δ after softplus), A [E,N], B, C [B,T,N], h0 [B,E,N] or null (zeros).
/// Returns y [B,T,E] and the final state h_T [B,E,N]; differentiable in every input.
/// <para>What stays outside the kernel (tensor ops in <see cref="Mixers.Mamba"/>): Δ = softplus(dt_proj(δ)) with its bias,
/// the D skip and the SiLU(z) gate. The official CUDA kernel fuses them; here they are elementwise passes over [B,T,E],
/// a few percent of a training step (see experiments/scan-kernels), and keeping them out keeps one small signature that
/// every backend implements.</para>
/// </summary>
public static class SelectiveScan
{
    public static (Tensor Y, Tensor Last) Forward(Tensor x, Tensor delta, Tensor a, Tensor bIn, Tensor cIn, Tensor? h0 = null) =>
        Forward(x, delta, a, bIn, cIn, h0, ScanBackends.Default);

    public static (Tensor Y, Tensor Last) Forward(Tensor x, Tensor delta, Tensor a, Tensor bIn, Tensor cIn, Tensor? h0,
                                                 ScanBackend backend)
    {
        ScanBackends.EnsureAvailable(backend);
        if (ScanBackends.UsesIlgpu(backend, x, "selective scan"))
            return Gpu.IlgpuSelectiveScanFunction.Forward(x, delta, a, bIn, cIn, h0);
        bool fusedRuns = SelectiveScanCpu.Supports(x, delta, a, bIn, cIn, h0);
        if (backend == ScanBackend.Cpu && !fusedRuns)
            throw new ArgumentException($"selective scan: the cpu backend needs float32 or float64 CPU tensors, got {x.dtype} on {x.device}");
        if (backend != ScanBackend.Reference && fusedRuns)
            return SelectiveScanCpu.Forward(x, delta, a, bIn, cIn, h0);
        return SelectiveScanReference.Forward(x, delta, a, bIn, cIn, h0);
    }
}
