using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Gpu;

/// <summary>
/// The ILGPU RWKV-4 WKV as a TorchSharp autograd function: <see cref="Forward"/> runs <see cref="IlgpuScans.WkvForward"/>,
/// backward <see cref="IlgpuScans.WkvBackward"/> (recomputing the states). Differentiable in w, u, k, v and the initial
/// state; the final state (A, B, P) is an output with its own gradient, so chunks can be chained under autograd as
/// <see cref="Mixers.Rwkv4TimeMix"/> does.
/// </summary>
public sealed class IlgpuWkvFunction : autograd.MultiTensorFunction<IlgpuWkvFunction>
{
    public override string Name => "IlgpuWkv";

    /// <summary>w (negative decay, = −exp(time_decay)) and u [C], k, v [B,T,C], initial state or null (empty) →
    /// y [B,T,C] and the final state; runs on <paramref name="scans"/> (default <see cref="IlgpuScans.Shared"/>).</summary>
    public static WkvResult Forward(Tensor w, Tensor u, Tensor k, Tensor v, Wkv4State? initial = null, IlgpuScans? scans = null)
    {
        initial ??= Wkv4State.Empty(k.shape[0], k.shape[2], k.dtype, k.device);
        var outputs = apply(w, u, k, v, initial.A, initial.B, initial.P, scans ?? IlgpuScans.Shared);
        return new WkvResult(outputs[0], new Wkv4State(outputs[1], outputs[2], outputs[3]));
    }

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var inputs = vars.Take(7).Cast<Tensor>().ToList();
        var scans = (IlgpuScans)vars[7];
        var result = scans.WkvForward(inputs[0], inputs[1], inputs[2], inputs[3], new Wkv4State(inputs[4], inputs[5], inputs[6]));
        ctx.set_materialize_grads(false);
        ctx.save_for_backward(inputs.Select(t => t.detach()).ToList());
        ctx.save_data("scans", scans);
        return [result.Y, result.State.A, result.State.B, result.State.P];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
    {
        var s = ctx.get_saved_variables();
        var scans = (IlgpuScans)ctx.get_data("scans")!;
        var gA = IlgpuSelectiveScanFunction.Defined(gradOutputs[1]);
        var gB = IlgpuSelectiveScanFunction.Defined(gradOutputs[2]);
        var gP = IlgpuSelectiveScanFunction.Defined(gradOutputs[3]);
        Wkv4State? dFinal = gA is null && gB is null && gP is null ? null
            : new Wkv4State(gA ?? s[4].zeros_like(), gB ?? s[5].zeros_like(), gP ?? s[6].zeros_like());
        var g = scans.WkvBackward(s[0], s[1], s[2], s[3], new Wkv4State(s[4], s[5], s[6]),
                                  IlgpuSelectiveScanFunction.Defined(gradOutputs[0]), dFinal);
        return [g.DW, g.DU, g.DK, g.DV, g.DInitial.A, g.DInitial.B, g.DInitial.P, null!];   // none for the IlgpuScans argument
    }
}
