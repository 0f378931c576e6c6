using static TorchSharp.torch;

namespace ArchLab.Kernels.Gpu;

/// <summary>Gradients of the selective scan's inputs: dx, dΔ [B,T,E], dA [E,N], dB, dC [B,T,N], dh0 [B,E,N].</summary>
public sealed record SelectiveScanGradients(Tensor DX, Tensor DDelta, Tensor DA, Tensor DB, Tensor DC, Tensor DH0);

/// <summary>WKV output y [B,T,C] and the state after the last token.</summary>
public sealed record WkvResult(Tensor Y, Wkv4State State);

/// <summary>Gradients of the WKV inputs: dw, du [C], dk, dv [B,T,C], and the initial state's (dA0, dB0, dP0) [B,C].</summary>
public sealed record WkvGradients(Tensor DW, Tensor DU, Tensor DK, Tensor DV, Wkv4State DInitial);
