using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Gpu;

/// <summary>
/// The ILGPU RWKV-7 WKV as a TorchSharp autograd function: <see cref="Forward"/> runs <see cref="IlgpuScans.Wkv7Forward"/>,
/// backward <see cref="IlgpuScans.Wkv7Backward"/> (recomputing the states). Same arguments and result as
/// <see cref="Reference.Wkv7Reference.Recurrent"/>; differentiable in every input including the initial state.
/// </summary>
public sealed class IlgpuWkv7Function : autograd.MultiTensorFunction<IlgpuWkv7Function>
{
    public override string Name => "IlgpuWkv7";

    /// <summary>r, log w, k, v, a, b [B,T,H,N], initial state [B,H,N,N] or null (zeros) → y [B,T,H,N] and the final
    /// state; runs on <paramref name="scans"/> (default <see cref="IlgpuScans.Shared"/>).</summary>
    public static (Tensor Y, Tensor State) Forward(Tensor r, Tensor logW, Tensor k, Tensor v, Tensor a, Tensor b, Tensor? initial = null,
                                                  IlgpuScans? scans = null)
    {
        long n = r.shape[3];
        initial ??= zeros([r.shape[0], r.shape[2], n, n], r.dtype, r.device);
        var outputs = apply(r, logW, k, v, a, b, initial, scans ?? IlgpuScans.Shared);
        return (outputs[0], outputs[1]);
    }

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var inputs = vars.Take(7).Cast<Tensor>().ToList();
        var scans = (IlgpuScans)vars[7];
        var (y, last) = scans.Wkv7Forward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5], inputs[6]);
        ctx.set_materialize_grads(false);
        ctx.save_for_backward(inputs.Select(t => t.detach()).ToList());
        ctx.save_data("scans", scans);
        return [y, last];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
    {
        var s = ctx.get_saved_variables();
        var scans = (IlgpuScans)ctx.get_data("scans")!;
        var g = scans.Wkv7Backward(s[0], s[1], s[2], s[3], s[4], s[5], s[6],
                                   IlgpuSelectiveScanFunction.Defined(gradOutputs[0]), IlgpuSelectiveScanFunction.Defined(gradOutputs[1]));
        return [g.DR, g.DLogW, g.DK, g.DV, g.DA, g.DB, g.DS0, null!];              // none for the IlgpuScans argument
    }
}
