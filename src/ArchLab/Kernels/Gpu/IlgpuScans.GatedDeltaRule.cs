using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Gpu;

public sealed partial class IlgpuScans
{
    /// <summary>Gated delta rule (see <see cref="Reference.GatedDeltaRuleReference"/>): q, k [B,H,T,K], v [B,H,T,V],
    /// g (log decay), β [B,H,T], S0 [B,H,K,V] or null (zeros) → o [B,H,T,V], S_T [B,H,K,V]. Not differentiable: use
    /// <see cref="IlgpuGatedDeltaRuleFunction"/>.</summary>
    public (Tensor O, Tensor Last) GatedDeltaRuleForward(Tensor q, Tensor k, Tensor v, Tensor g, Tensor beta, Tensor? s0 = null)
    {
        var shape = CheckDeltaRule(q, k, v, g, beta, s0);
        return ForDtype(q, ks => DeltaRuleForward(ks, shape, q, k, v, g, beta, s0),
                           ks => DeltaRuleForward(ks, shape, q, k, v, g, beta, s0));
    }

    /// <summary>Gradients of every gated-delta-rule input given do [B,H,T,V] and dS_T [B,H,K,V] (null = zeros).</summary>
    public DeltaRuleGradients GatedDeltaRuleBackward(Tensor q, Tensor k, Tensor v, Tensor g, Tensor beta, Tensor? s0, Tensor? dOut,
                                                     Tensor? dLast)
    {
        var shape = CheckDeltaRule(q, k, v, g, beta, s0);
        return ForDtype(q, ks => DeltaRuleBackward(ks, shape, q, k, v, g, beta, s0, dOut, dLast),
                           ks => DeltaRuleBackward(ks, shape, q, k, v, g, beta, s0, dOut, dLast));
    }

    (Tensor O, Tensor Last) DeltaRuleForward<T>(KernelSet<T> kernels, DeltaRuleShape s, Tensor q, Tensor k, Tensor v, Tensor g,
                                                Tensor beta, Tensor? s0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long[] oShape = [s.Batch, s.Heads, s.Time, s.ValueDim], stateShape = [s.Batch, s.Heads, s.KeyDim, s.ValueDim];
        return WithBuffers<T, (Tensor, Tensor)>(q, buffers =>
        {
            var views = new DeltaRuleForwardViews<T>
            {
                Q = buffers.Upload(q), K = buffers.Upload(k), V = buffers.Upload(v), G = buffers.Upload(g), Beta = buffers.Upload(beta),
                S0 = buffers.UploadOrZeros(s0, Count(stateShape)),
                O = buffers.Allocate(Count(oShape)), Last = buffers.Allocate(Count(stateShape)),
            };
            int rows = s.Batch * s.Heads * s.ValueDim;
            if (rows > 0) kernels.DeltaRuleForward(rows, s, views);
            return (buffers.Download(views.O, oShape), buffers.Download(views.Last, stateShape));
        });
    }

    DeltaRuleGradients DeltaRuleBackward<T>(KernelSet<T> kernels, DeltaRuleShape s, Tensor q, Tensor k, Tensor v, Tensor g,
                                            Tensor beta, Tensor? s0, Tensor? dOut, Tensor? dLast)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long[] oShape = [s.Batch, s.Heads, s.Time, s.ValueDim], stateShape = [s.Batch, s.Heads, s.KeyDim, s.ValueDim];
        long[] keyShape = [s.Batch, s.Heads, s.Time, s.KeyDim], gateShape = [s.Batch, s.Heads, s.Time];
        long perColumn = Count(oShape) * s.KeyDim;                                      // scratch [B,H,T,V,K]
        return WithBuffers<T, DeltaRuleGradients>(q, buffers =>
        {
            var views = new DeltaRuleBackwardViews<T>
            {
                Q = buffers.Upload(q), K = buffers.Upload(k), V = buffers.Upload(v), G = buffers.Upload(g), Beta = buffers.Upload(beta),
                S0 = buffers.UploadOrZeros(s0, Count(stateShape)),
                DO = buffers.UploadOrZeros(dOut, Count(oShape)), DLast = buffers.UploadOrZeros(dLast, Count(stateShape)),
                DV = buffers.Allocate(Count(oShape)), DS0 = buffers.Allocate(Count(stateShape)),
                States = buffers.Allocate(perColumn), PartK = buffers.Allocate(perColumn),
                PartG = buffers.Allocate(Count(oShape)), PartBeta = buffers.Allocate(Count(oShape)),
            };
            var dq = buffers.Allocate(Count(keyShape));
            var dk = buffers.Allocate(Count(keyShape));
            var dg = buffers.Allocate(Count(gateShape));
            var dBeta = buffers.Allocate(Count(gateShape));
            int rows = s.Batch * s.Heads * s.ValueDim;
            if (rows > 0)
            {
                kernels.DeltaRuleBackward(rows, s, views);
                int steps = s.Batch * s.Heads * s.Time;
                Sum(kernels, views.States, dq, new SumShape(steps, s.ValueDim, s.KeyDim));       // over the value index j
                Sum(kernels, views.PartK, dk, new SumShape(steps, s.ValueDim, s.KeyDim));
                Sum(kernels, views.PartG, dg, new SumShape(steps, s.ValueDim, 1));
                Sum(kernels, views.PartBeta, dBeta, new SumShape(steps, s.ValueDim, 1));
            }
            else
            {
                dq.MemSetToZero(); dk.MemSetToZero(); dg.MemSetToZero(); dBeta.MemSetToZero();
            }
            return new DeltaRuleGradients(
                buffers.Download(dq, keyShape), buffers.Download(dk, keyShape), buffers.Download(views.DV, oShape),
                buffers.Download(dg, gateShape), buffers.Download(dBeta, gateShape), buffers.Download(views.DS0, stateShape));
        });
    }

    static DeltaRuleShape CheckDeltaRule(Tensor q, Tensor k, Tensor v, Tensor g, Tensor beta, Tensor? s0)
    {
        if (q.dim() != 4 || v.dim() != 4) throw new ArgumentException("ILGPU gated delta rule: q must be [B,H,T,K] and v [B,H,T,V]");
        long batch = q.shape[0], heads = q.shape[1], time = q.shape[2], keyDim = q.shape[3], valueDim = v.shape[3];
        CheckShape(k, [batch, heads, time, keyDim], "k");
        CheckShape(v, [batch, heads, time, valueDim], "v");
        CheckShape(g, [batch, heads, time], "g");
        CheckShape(beta, [batch, heads, time], "beta");
        if (s0 is not null) CheckShape(s0, [batch, heads, keyDim, valueDim], "S0");
        CheckTypes(q, k, v, g, beta, s0);
        return new DeltaRuleShape(checked((int)batch), checked((int)heads), checked((int)time), checked((int)keyDim), checked((int)valueDim));
    }
}
