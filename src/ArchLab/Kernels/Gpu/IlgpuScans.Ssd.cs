using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Gpu;

public sealed partial class IlgpuScans
{
    /// <summary>Mamba-2 SSD (see <see cref="Reference.SsdReference"/>): x [B,T,H,P], Δ [B,T,H], A [H], B, C [B,T,H,N],
    /// S0 [B,H,P,N] or null (zeros) → y [B,T,H,P], S_T [B,H,P,N]. Not differentiable: use <see cref="IlgpuSsdFunction"/>.</summary>
    public (Tensor Y, Tensor Last) SsdForward(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? s0 = null)
    {
        var shape = CheckSsd(x, dt, a, b, c, s0);
        return ForDtype(x, k => SsdForward(k, shape, x, dt, a, b, c, s0), k => SsdForward(k, shape, x, dt, a, b, c, s0));
    }

    /// <summary>Gradients of every SSD input given dy [B,T,H,P] and dS_T [B,H,P,N] (null = zeros).</summary>
    public SsdGradients SsdBackward(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? s0, Tensor? dy, Tensor? dLast)
    {
        var shape = CheckSsd(x, dt, a, b, c, s0);
        return ForDtype(x, k => SsdBackward(k, shape, x, dt, a, b, c, s0, dy, dLast),
                           k => SsdBackward(k, shape, x, dt, a, b, c, s0, dy, dLast));
    }

    (Tensor Y, Tensor Last) SsdForward<T>(KernelSet<T> kernels, SsdShape s, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c,
                                          Tensor? s0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long[] yShape = [s.Batch, s.Time, s.Heads, s.HeadDim], stateShape = [s.Batch, s.Heads, s.HeadDim, s.State];
        return WithBuffers<T, (Tensor, Tensor)>(x, buffers =>
        {
            var v = new SsdForwardViews<T>
            {
                X = buffers.Upload(x), Dt = buffers.Upload(dt), A = buffers.Upload(a), B = buffers.Upload(b), C = buffers.Upload(c),
                S0 = buffers.UploadOrZeros(s0, Count(stateShape)),
                Y = buffers.Allocate(Count(yShape)), Last = buffers.Allocate(Count(stateShape)),
            };
            int rows = s.Batch * s.Heads * s.HeadDim;
            if (rows > 0) kernels.SsdForward(rows, s, v);
            return (buffers.Download(v.Y, yShape), buffers.Download(v.Last, stateShape));
        });
    }

    SsdGradients SsdBackward<T>(KernelSet<T> kernels, SsdShape s, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? s0,
                                Tensor? dy, Tensor? dLast) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long[] yShape = [s.Batch, s.Time, s.Heads, s.HeadDim], stateShape = [s.Batch, s.Heads, s.HeadDim, s.State];
        long[] dtShape = [s.Batch, s.Time, s.Heads], bShape = [s.Batch, s.Time, s.Heads, s.State];
        long perRow = Count(yShape) * s.State;                                          // [B,T,H,P,N]
        return WithBuffers<T, SsdGradients>(x, buffers =>
        {
            var v = new SsdBackwardViews<T>
            {
                X = buffers.Upload(x), Dt = buffers.Upload(dt), A = buffers.Upload(a), B = buffers.Upload(b), C = buffers.Upload(c),
                S0 = buffers.UploadOrZeros(s0, Count(stateShape)),
                DY = buffers.UploadOrZeros(dy, Count(yShape)), DLast = buffers.UploadOrZeros(dLast, Count(stateShape)),
                DX = buffers.Allocate(Count(yShape)), DS0 = buffers.Allocate(Count(stateShape)),
                States = buffers.Allocate(perRow), PartB = buffers.Allocate(perRow),
                PartDt = buffers.Allocate(Count(yShape)), PartA = buffers.Allocate((long)s.Batch * s.Heads * s.HeadDim),
            };
            var dDt = buffers.Allocate(Count(dtShape));
            var dAPerBatch = buffers.Allocate((long)s.Batch * s.Heads);
            var dA = buffers.Allocate(s.Heads);
            var dB = buffers.Allocate(Count(bShape));
            var dC = buffers.Allocate(Count(bShape));
            int rows = s.Batch * s.Heads * s.HeadDim;
            if (rows > 0)
            {
                kernels.SsdBackward(rows, s, v);
                int tokenHeads = s.Batch * s.Time * s.Heads;
                Sum(kernels, v.PartB, dB, new SumShape(tokenHeads, s.HeadDim, s.State));         // over p
                Sum(kernels, v.States, dC, new SumShape(tokenHeads, s.HeadDim, s.State));        // over p
                Sum(kernels, v.PartDt, dDt, new SumShape(tokenHeads, s.HeadDim, 1));             // over p
                Sum(kernels, v.PartA, dAPerBatch, new SumShape(s.Batch * s.Heads, s.HeadDim, 1)); // over p
                Sum(kernels, dAPerBatch, dA, new SumShape(1, s.Batch, s.Heads));                  // then over b
            }
            else
            {
                dDt.MemSetToZero(); dA.MemSetToZero(); dB.MemSetToZero(); dC.MemSetToZero();
            }
            return new SsdGradients(
                buffers.Download(v.DX, yShape), buffers.Download(dDt, dtShape), buffers.Download(dA, [s.Heads]),
                buffers.Download(dB, bShape), buffers.Download(dC, bShape), buffers.Download(v.DS0, stateShape));
        });
    }

    static SsdShape CheckSsd(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? s0)
    {
        if (x.dim() != 4 || b.dim() != 4) throw new ArgumentException("ILGPU SSD: x must be [B,T,H,P] and B [B,T,H,N]");
        long batch = x.shape[0], time = x.shape[1], heads = x.shape[2], headDim = x.shape[3], state = b.shape[3];
        CheckShape(dt, [batch, time, heads], "dt");
        CheckShape(a, [heads], "A");
        CheckShape(b, [batch, time, heads, state], "B");
        CheckShape(c, [batch, time, heads, state], "C");
        if (s0 is not null) CheckShape(s0, [batch, heads, headDim, state], "S0");
        CheckTypes(x, dt, a, b, c, s0);
        return new SsdShape(checked((int)batch), checked((int)time), checked((int)heads), checked((int)headDim), checked((int)state));
    }
}
