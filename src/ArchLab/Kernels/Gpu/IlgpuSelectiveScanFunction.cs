using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Gpu;

/// <summary>
/// The ILGPU selective scan as a TorchSharp autograd function: <see cref="Forward"/> runs
/// <see cref="IlgpuScans.SelectiveScanForward"/>, and backward runs <see cref="IlgpuScans.SelectiveScanBackward"/>
/// (which recomputes the states, so only the inputs are saved). Same signature and result as
/// <see cref="SelectiveScan.Forward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?)"/>.
/// </summary>
public sealed class IlgpuSelectiveScanFunction : autograd.MultiTensorFunction<IlgpuSelectiveScanFunction>
{
    public override string Name => "IlgpuSelectiveScan";

    /// <summary>x, Δ [B,T,E], A [E,N], B, C [B,T,N], h0 [B,E,N] or null → y [B,T,E], h_T [B,E,N], differentiable in every
    /// input; runs on <paramref name="scans"/> (default <see cref="IlgpuScans.Shared"/>).</summary>
    public static (Tensor Y, Tensor Last) Forward(Tensor x, Tensor delta, Tensor a, Tensor bIn, Tensor cIn, Tensor? h0 = null,
                                                 IlgpuScans? scans = null)
    {
        h0 ??= zeros(x.shape[0], x.shape[2], a.shape[1], dtype: x.dtype, device: x.device);
        var outputs = apply(x, delta, a, bIn, cIn, h0, scans ?? IlgpuScans.Shared);
        return (outputs[0], outputs[1]);
    }

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var inputs = vars.Take(6).Cast<Tensor>().ToList();
        var scans = (IlgpuScans)vars[6];
        var (y, last) = scans.SelectiveScanForward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5]);
        // Unused outputs' gradients arrive undefined and are read as zeros (as in SelectiveScanCpu).
        ctx.set_materialize_grads(false);
        ctx.save_for_backward(inputs.Select(t => t.detach()).ToList());
        ctx.save_data("scans", scans);
        return [y, last];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
    {
        var saved = ctx.get_saved_variables();
        var scans = (IlgpuScans)ctx.get_data("scans")!;
        var g = scans.SelectiveScanBackward(saved[0], saved[1], saved[2], saved[3], saved[4], saved[5],
                                            Defined(gradOutputs[0]), Defined(gradOutputs[1]));
        return [g.DX, g.DDelta, g.DA, g.DB, g.DC, g.DH0, null!];                 // none for the IlgpuScans argument
    }

    internal static Tensor? Defined(Tensor? t) => t is null || t.IsInvalid ? null : t;
}
