using ArchLab.Kernels.Cpu;
using ArchLab.Kernels.Reference;
using static TorchSharp.torch;

namespace ArchLab.Kernels;

/// <summary>
/// RWKV-4's WKV state in the numerically stable form of the official kernels, each [B, C]: numerator A and denominator B
/// of the weighted sums, both stored scaled by e^{−P}, and P, the largest exponent seen so far. The one type every
/// backend (reference, cpu, ilgpu) and <see cref="Mixers.Rwkv4TimeMixState"/> use.
/// The empty state is A = B = 0, P = −1e30 (<see cref="Mixers.Rwkv4TimeMixState.EmptyExponent"/>).
/// </summary>
public sealed record Wkv4State(Tensor A, Tensor B, Tensor P)
{
    public static Wkv4State Empty(long batch, long channels, ScalarType dtype, Device? device = null) =>
        new(zeros([batch, channels], dtype, device), zeros([batch, channels], dtype, device),
            full([batch, channels], Mixers.Rwkv4TimeMixState.EmptyExponent, dtype, device));
}

/// <summary>
/// RWKV-4's WKV operator shared by every backend (Peng et al. 2023, §4.1; BlinkDL RWKV-LM wkv_cuda.cu), per channel c:
/// <code>
///   wkv_t = (Σ_{i&lt;t} e^{(t−1−i)w + k_i} v_i + e^{u + k_t} v_t) / (Σ_{i&lt;t} e^{(t−1−i)w + k_i} + e^{u + k_t})
/// </code>
/// with the sums continuing from an initial state (A, B, P) (their values times e^{P} are the sums over earlier tokens).
/// Shapes: w (the decay, negative: −exp(time_decay)) and u (time_first) [C]; k, v [B,T,C]; state tensors [B,C].
/// Returns wkv [B,T,C] and the state after the last token; differentiable in w, u, k, v and the initial state.
/// <para>P is a scale, not a value: every consumer of the state uses only A·e^P and B·e^P, so a gradient arriving at the
/// returned P is ignored (the reference and cpu backends; the blocked reference detaches it), and the gradient of the
/// initial P is A·dA + B·dB. The ilgpu backend instead differentiates through P; chained WKV calls get the same
/// parameter gradients either way.</para>
/// </summary>
public static class Wkv4
{
    public static (Tensor Y, Wkv4State Last) Forward(Tensor w, Tensor u, Tensor k, Tensor v, Wkv4State? initial = null) =>
        Forward(w, u, k, v, initial, ScanBackends.Default);

    /// <param name="referenceBlock">Tokens per block of the reference's blocked scan (0: its token-by-token recurrence).</param>
    public static (Tensor Y, Wkv4State Last) Forward(Tensor w, Tensor u, Tensor k, Tensor v, Wkv4State? initial, ScanBackend backend,
                                                    int referenceBlock = Wkv4Reference.DefaultBlock)
    {
        ScanBackends.EnsureAvailable(backend);
        if (ScanBackends.UsesIlgpu(backend, k, "wkv"))
        {
            Gpu.WkvResult result = Gpu.IlgpuWkvFunction.Forward(w, u, k, v, initial);
            // ILGPU's backward differentiates through P (a full chain rule: it needs the gradient arriving at the returned
            // P and gives the initial P its true gradient); parameter gradients equal the other backends' convention.
            return (result.Y, result.State);
        }
        bool fusedRuns = Wkv4Cpu.Supports(w, u, k, v, initial);
        if (backend == ScanBackend.Cpu && !fusedRuns)
            throw new ArgumentException($"wkv: the cpu backend needs float32 or float64 CPU tensors, got {k.dtype} on {k.device}");
        if (backend != ScanBackend.Reference && fusedRuns)
            return Wkv4Cpu.Forward(w, u, k, v, initial);
        return Wkv4Reference.Forward(w, u, k, v, initial, referenceBlock);
    }
}
