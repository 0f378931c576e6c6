using static TorchSharp.torch;

namespace ArchLab.Kernels.Gpu;

/// <summary>Gradients of the selective scan's inputs: dx, dΔ [B,T,E], dA [E,N], dB, dC [B,T,N], dh0 [B,E,N].</summary>
public sealed record SelectiveScanGradients(Tensor DX, Tensor DDelta, Tensor DA, Tensor DB, Tensor DC, Tensor DH0);

/// <summary>WKV output y [B,T,C] and the state after the last token.</summary>
public sealed record WkvResult(Tensor Y, Wkv4State State);

/// <summary>Gradients of the WKV inputs: dw, du [C], dk, dv [B,T,C], and the initial state's (dA0, dB0, dP0) [B,C].</summary>
public sealed record WkvGradients(Tensor DW, Tensor DU, Tensor DK, Tensor DV, Wkv4State DInitial);

/// <summary>Gradients of the SSD inputs: dx [B,T,H,P], dΔ [B,T,H], dA [H], dB, dC [B,T,H,N], dS0 [B,H,P,N].</summary>
public sealed record SsdGradients(Tensor DX, Tensor DDt, Tensor DA, Tensor DB, Tensor DC, Tensor DS0);

/// <summary>Gradients of the RWKV-7 WKV inputs: dr, dlog w, dk, dv, da, db [B,T,H,N], dS0 [B,H,N,N].</summary>
public sealed record Wkv7Gradients(Tensor DR, Tensor DLogW, Tensor DK, Tensor DV, Tensor DA, Tensor DB, Tensor DS0);

/// <summary>Gradients of the gated-delta-rule inputs: dq, dk [B,H,T,K], dv [B,H,T,V], dg, dβ [B,H,T], dS0 [B,H,K,V].</summary>
public sealed record DeltaRuleGradients(Tensor DQ, Tensor DK, Tensor DV, Tensor DG, Tensor DBeta, Tensor DS0);
