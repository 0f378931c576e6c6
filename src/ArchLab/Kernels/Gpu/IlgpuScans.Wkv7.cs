using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Gpu;

public sealed partial class IlgpuScans
{
    /// <summary>RWKV-7 WKV (see <see cref="Reference.Wkv7Reference"/>): r, log w, k, v, a, b [B,T,H,N], S0 [B,H,N,N] or null
    /// (zeros) → y [B,T,H,N], S_T [B,H,N,N]. Not differentiable: use <see cref="IlgpuWkv7Function"/>.</summary>
    public (Tensor Y, Tensor Last) Wkv7Forward(Tensor r, Tensor logW, Tensor k, Tensor v, Tensor a, Tensor b, Tensor? s0 = null)
    {
        var shape = CheckWkv7(r, logW, k, v, a, b, s0);
        return ForDtype(r, ks => Wkv7Forward(ks, shape, r, logW, k, v, a, b, s0),
                           ks => Wkv7Forward(ks, shape, r, logW, k, v, a, b, s0));
    }

    /// <summary>Gradients of every WKV-7 input given dy [B,T,H,N] and dS_T [B,H,N,N] (null = zeros).</summary>
    public Wkv7Gradients Wkv7Backward(Tensor r, Tensor logW, Tensor k, Tensor v, Tensor a, Tensor b, Tensor? s0, Tensor? dy, Tensor? dLast)
    {
        var shape = CheckWkv7(r, logW, k, v, a, b, s0);
        return ForDtype(r, ks => Wkv7Backward(ks, shape, r, logW, k, v, a, b, s0, dy, dLast),
                           ks => Wkv7Backward(ks, shape, r, logW, k, v, a, b, s0, dy, dLast));
    }

    (Tensor Y, Tensor Last) Wkv7Forward<T>(KernelSet<T> kernels, Wkv7Shape s, Tensor r, Tensor logW, Tensor k, Tensor v, Tensor a,
                                           Tensor b, Tensor? s0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long[] tokenShape = [s.Batch, s.Time, s.Heads, s.HeadSize], stateShape = [s.Batch, s.Heads, s.HeadSize, s.HeadSize];
        return WithBuffers<T, (Tensor, Tensor)>(r, buffers =>
        {
            var views = new Wkv7ForwardViews<T>
            {
                R = buffers.Upload(r), LogW = buffers.Upload(logW), K = buffers.Upload(k), V = buffers.Upload(v),
                A = buffers.Upload(a), B = buffers.Upload(b), S0 = buffers.UploadOrZeros(s0, Count(stateShape)),
                Y = buffers.Allocate(Count(tokenShape)), Last = buffers.Allocate(Count(stateShape)),
            };
            int rows = s.Batch * s.Heads * s.HeadSize;
            if (rows > 0) kernels.Wkv7Forward(rows, s, views);
            return (buffers.Download(views.Y, tokenShape), buffers.Download(views.Last, stateShape));
        });
    }

    Wkv7Gradients Wkv7Backward<T>(KernelSet<T> kernels, Wkv7Shape s, Tensor r, Tensor logW, Tensor k, Tensor v, Tensor a, Tensor b,
                                  Tensor? s0, Tensor? dy, Tensor? dLast) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long[] tokenShape = [s.Batch, s.Time, s.Heads, s.HeadSize], stateShape = [s.Batch, s.Heads, s.HeadSize, s.HeadSize];
        long tokens = Count(tokenShape), perRow = tokens * s.HeadSize;                 // scratch [B,T,H,N,N]
        return WithBuffers<T, Wkv7Gradients>(r, buffers =>
        {
            var views = new Wkv7BackwardViews<T>
            {
                R = buffers.Upload(r), LogW = buffers.Upload(logW), K = buffers.Upload(k), V = buffers.Upload(v),
                A = buffers.Upload(a), B = buffers.Upload(b), S0 = buffers.UploadOrZeros(s0, Count(stateShape)),
                DY = buffers.UploadOrZeros(dy, tokens), DLast = buffers.UploadOrZeros(dLast, Count(stateShape)),
                DV = buffers.Allocate(tokens), DS0 = buffers.Allocate(Count(stateShape)),
                States = buffers.Allocate(perRow), PartW = buffers.Allocate(perRow), PartK = buffers.Allocate(perRow),
                PartA = buffers.Allocate(perRow), PartB = buffers.Allocate(perRow),
            };
            var sums = new ArrayView<T>[5];
            for (int i = 0; i < sums.Length; i++) sums[i] = buffers.Allocate(tokens);
            int rows = s.Batch * s.Heads * s.HeadSize;
            if (rows > 0)
            {
                kernels.Wkv7Backward(rows, s, views);
                var overI = new SumShape(s.Batch * s.Time * s.Heads, s.HeadSize, s.HeadSize);  // over the value index i
                ArrayView<T>[] parts = [views.States, views.PartW, views.PartK, views.PartA, views.PartB];
                for (int i = 0; i < parts.Length; i++) Sum(kernels, parts[i], sums[i], overI);
            }
            else
            {
                foreach (var sum in sums) sum.MemSetToZero();
            }
            Tensor Out(ArrayView<T> view) => buffers.Download(view, tokenShape);
            return new Wkv7Gradients(Out(sums[0]), Out(sums[1]), Out(sums[2]), Out(views.DV), Out(sums[3]), Out(sums[4]),
                                     buffers.Download(views.DS0, stateShape));
        });
    }

    static Wkv7Shape CheckWkv7(Tensor r, Tensor logW, Tensor k, Tensor v, Tensor a, Tensor b, Tensor? s0)
    {
        if (r.dim() != 4) throw new ArgumentException("ILGPU WKV-7: r must be [B,T,H,N]");
        long[] tokens = r.shape;
        CheckShape(logW, tokens, "log w");
        CheckShape(k, tokens, "k");
        CheckShape(v, tokens, "v");
        CheckShape(a, tokens, "a");
        CheckShape(b, tokens, "b");
        if (s0 is not null) CheckShape(s0, [tokens[0], tokens[2], tokens[3], tokens[3]], "S0");
        CheckTypes(r, logW, k, v, a, b, s0);
        return new Wkv7Shape(checked((int)tokens[0]), checked((int)tokens[1]), checked((int)tokens[2]), checked((int)tokens[3]));
    }
}
