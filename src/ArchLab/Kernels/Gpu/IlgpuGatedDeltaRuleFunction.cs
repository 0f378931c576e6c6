using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Gpu;

/// <summary>
/// The ILGPU gated delta rule as a TorchSharp autograd function: <see cref="Forward"/> runs
/// <see cref="IlgpuScans.GatedDeltaRuleForward"/>, backward <see cref="IlgpuScans.GatedDeltaRuleBackward"/> (recomputing the
/// states). Same arguments and result as <see cref="Reference.GatedDeltaRuleReference.Recurrent"/>; differentiable in every
/// input including the initial state.
/// </summary>
public sealed class IlgpuGatedDeltaRuleFunction : autograd.MultiTensorFunction<IlgpuGatedDeltaRuleFunction>
{
    public override string Name => "IlgpuGatedDeltaRule";

    /// <summary>q, k [B,H,T,K], v [B,H,T,V], g (log decay), β [B,H,T], S0 [B,H,K,V] or null (zeros) → o [B,H,T,V] and the
    /// final state; runs on <paramref name="scans"/> (default <see cref="IlgpuScans.Shared"/>).</summary>
    public static (Tensor O, Tensor S) Forward(Tensor q, Tensor k, Tensor v, Tensor g, Tensor beta, Tensor? s0 = null,
                                              IlgpuScans? scans = null)
    {
        s0 ??= zeros([q.shape[0], q.shape[1], q.shape[3], v.shape[3]], q.dtype, q.device);
        var outputs = apply(q, k, v, g, beta, s0, scans ?? IlgpuScans.Shared);
        return (outputs[0], outputs[1]);
    }

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var inputs = vars.Take(6).Cast<Tensor>().ToList();
        var scans = (IlgpuScans)vars[6];
        var (o, last) = scans.GatedDeltaRuleForward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5]);
        ctx.set_materialize_grads(false);
        ctx.save_for_backward(inputs.Select(t => t.detach()).ToList());
        ctx.save_data("scans", scans);
        return [o, last];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
    {
        var s = ctx.get_saved_variables();
        var scans = (IlgpuScans)ctx.get_data("scans")!;
        var g = scans.GatedDeltaRuleBackward(s[0], s[1], s[2], s[3], s[4], s[5],
                                             IlgpuSelectiveScanFunction.Defined(gradOutputs[0]), IlgpuSelectiveScanFunction.Defined(gradOutputs[1]));
        return [g.DQ, g.DK, g.DV, g.DG, g.DBeta, g.DS0, null!];                    // none for the IlgpuScans argument
    }
}
