using static TorchSharp.torch;

namespace ArchLab.Kernels.Gpu;

/// <summary>Gradients of the selective scan's inputs: dx, dΔ [B,T,E], dA [E,N], dB, dC [B,T,N], dh0 [B,E,N].</summary>
public sealed record SelectiveScanGradients(Tensor DX, Tensor DDelta, Tensor DA, Tensor DB, Tensor DC, Tensor DH0);

/// <summary>
/// RWKV-4's WKV state per (batch, channel), each [B, C], in the layout of <see cref="Mixers.Rwkv4TimeMixState"/>: numerator
/// A and denominator B of the weighted average, both scaled by e^{−P}, and the running largest exponent P.
/// </summary>
public sealed record WkvState(Tensor A, Tensor B, Tensor P)
{
    /// <summary>The empty state: A = B = 0 and P = −1e30 (<see cref="Mixers.Rwkv4TimeMixState.EmptyExponent"/>).</summary>
    public static WkvState Empty(long batch, long channels, ScalarType dtype, Device? device = null) =>
        new(zeros(batch, channels, dtype: dtype, device: device), zeros(batch, channels, dtype: dtype, device: device),
            full(batch, channels, Mixers.Rwkv4TimeMixState.EmptyExponent, dtype: dtype, device: device));
}

/// <summary>WKV output y [B,T,C] and the state after the last token.</summary>
public sealed record WkvResult(Tensor Y, WkvState State);

/// <summary>Gradients of the WKV inputs: dw, du [C], dk, dv [B,T,C], and the initial state's (dA0, dB0, dP0) [B,C].</summary>
public sealed record WkvGradients(Tensor DW, Tensor DU, Tensor DK, Tensor DV, WkvState DInitial);
