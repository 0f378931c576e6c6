using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Gpu;

/// <summary>
/// The ILGPU Mamba-2 SSD scan as a TorchSharp autograd function: <see cref="Forward"/> runs <see cref="IlgpuScans.SsdForward"/>,
/// backward <see cref="IlgpuScans.SsdBackward"/> (which recomputes the states, so only the inputs are saved). Same arguments
/// and result as <see cref="Reference.SsdReference.Chunked"/> (without the chunk length).
/// </summary>
public sealed class IlgpuSsdFunction : autograd.MultiTensorFunction<IlgpuSsdFunction>
{
    public override string Name => "IlgpuSsd";

    /// <summary>x [B,T,H,P], Δ [B,T,H], A [H], B, C [B,T,H,N], S0 [B,H,P,N] or null → y [B,T,H,P], S_T [B,H,P,N],
    /// differentiable in every input; runs on <paramref name="scans"/> (default <see cref="IlgpuScans.Shared"/>).</summary>
    public static (Tensor Y, Tensor Final) Forward(Tensor x, Tensor dt, Tensor a, Tensor bIn, Tensor cIn, Tensor? s0 = null,
                                                  IlgpuScans? scans = null)
    {
        s0 ??= zeros(x.shape[0], x.shape[2], x.shape[3], bIn.shape[3], dtype: x.dtype, device: x.device);
        var outputs = apply(x, dt, a, bIn, cIn, s0, scans ?? IlgpuScans.Shared);
        return (outputs[0], outputs[1]);
    }

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var inputs = vars.Take(6).Cast<Tensor>().ToList();
        var scans = (IlgpuScans)vars[6];
        var (y, last) = scans.SsdForward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5]);
        ctx.set_materialize_grads(false);                                          // unused outputs' gradients read as zeros
        ctx.save_for_backward(inputs.Select(t => t.detach()).ToList());
        ctx.save_data("scans", scans);
        return [y, last];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
    {
        var s = ctx.get_saved_variables();
        var scans = (IlgpuScans)ctx.get_data("scans")!;
        var g = scans.SsdBackward(s[0], s[1], s[2], s[3], s[4], s[5],
                                  IlgpuSelectiveScanFunction.Defined(gradOutputs[0]), IlgpuSelectiveScanFunction.Defined(gradOutputs[1]));
        return [g.DX, g.DDt, g.DA, g.DB, g.DC, g.DS0, null!];                      // none for the IlgpuScans argument
    }
}
