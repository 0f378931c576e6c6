using TorchSharp;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Reference;

/// <summary>
/// The selective scan as a sequential loop of TorchSharp tensor ops (the oracle; autograd through the ops), time-major so
/// every step reads contiguous slices: h_t = exp(Δ_t A) ⊙ h_{t−1} + Δ_t x_t B_tᵀ (one addcmul per step), then
/// y_t = h_t C_t for all t at once. This is the loop Mamba.Scan ran before the fused kernel, without the D skip.
/// </summary>
public static class SelectiveScanReference
{
    static readonly Scalar One = 1.0;

    /// <summary>x, Δ [B,T,E], A [E,N], B, C [B,T,N], h0 [B,E,N] (null = zeros) → y [B,T,E], h_T [B,E,N].</summary>
    public static (Tensor Y, Tensor Last) Forward(Tensor x, Tensor delta, Tensor a, Tensor bIn, Tensor cIn, Tensor? h0)
    {
        long time = x.shape[1];
        h0 ??= zeros(x.shape[0], x.shape[2], a.shape[1], dtype: x.dtype, device: x.device);
        var deltaT = delta.transpose(0, 1).contiguous();                                      // [T, B, E]
        var xT = x.transpose(0, 1);
        var decay = exp(deltaT.unsqueeze(-1) * a);                                            // [T, B, E, N]
        var drive = (deltaT * xT).unsqueeze(-1) * bIn.transpose(0, 1).unsqueeze(2);          // [T, B, E, N]

        // unbind, not decay[t]: the backward of T selects would build T full-size gradients (O(T²) work); unbind's is one stack.
        var decays = decay.unbind(0);
        var drives = drive.unbind(0);
        var states = new Tensor[time];
        var h = h0;
        for (int t = 0; t < time; t++)
            states[t] = h = addcmul(drives[t], decays[t], h, One);
        var hs = time == 0 ? decay : stack(states);                                          // [T, B, E, N]
        var y = matmul(hs, cIn.transpose(0, 1).unsqueeze(-1)).squeeze(-1).transpose(0, 1);   // [B, T, E]
        return (y, h);
    }
}
