using System.Numerics;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using static TorchSharp.torch;

namespace ArchLab.Kernels.Gpu;

/// <summary>
/// Runs the <see cref="IlgpuScanKernels{T}"/> on an ILGPU accelerator: CUDA when ILGPU finds a CUDA device (NVIDIA driver
/// installed), otherwise ILGPU's CPU accelerator (which emulates GPU threads: correct but far slower than the fused CPU
/// kernels, so it is for tests and machines without a GPU). Kernels are compiled once per element type, on first use.
/// <para><b>Data path: through host memory.</b> Every call copies its input tensors to host memory (a no-op for contiguous
/// CPU tensors), uploads them into ILGPU buffers, launches, downloads the results into new CPU tensors and moves those to the
/// inputs' device. That works with any TorchSharp build (CPU or CUDA libtorch) but costs two PCIe copies per call when both
/// sides are on the GPU. The zero-copy route is described in Kernels/Gpu/README.md.</para>
/// <para>Supports float32 and float64 tensors (all inputs of one call in the same type). Calls are serialised by a lock.</para>
/// </summary>
public sealed partial class IlgpuScans : IDisposable
{
    static readonly Lazy<IlgpuScans> shared = new(() => new IlgpuScans(), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>One process-wide instance (CUDA if available), created on first use.</summary>
    public static IlgpuScans Shared => shared.Value;

    readonly Context context;
    readonly object gate = new();
    KernelSet<float>? f32;
    KernelSet<double>? f64;

    public Accelerator Accelerator { get; }

    /// <summary>True when the kernels run on an NVIDIA GPU through ILGPU's CUDA backend.</summary>
    public bool IsCuda => Accelerator.AcceleratorType == AcceleratorType.Cuda;

    /// <param name="allowCuda">false forces ILGPU's CPU accelerator even where a CUDA device exists.</param>
    public IlgpuScans(bool allowCuda = true)
    {
        context = Context.Create(builder =>
        {
            builder.CPU().EnableAlgorithms();
            if (allowCuda) builder.Cuda();
        });
        var cuda = context.GetCudaDevices();
        Accelerator = allowCuda && cuda.Count > 0 ? cuda[0].CreateAccelerator(context) : context.CreateCPUAccelerator(0);
    }

    public void Dispose()
    {
        Accelerator.Dispose();
        context.Dispose();
    }

    public override string ToString() => $"ILGPU {Accelerator.AcceleratorType} ({Accelerator.Name})";

    // ---------------------------------------------------------------- selective scan

    /// <summary>Selective scan (see <see cref="SelectiveScan"/>): x, Δ [B,T,E], A [E,N], B, C [B,T,N], h0 [B,E,N] or null
    /// (zeros) → y [B,T,E], h_T [B,E,N]. Not differentiable: use <see cref="IlgpuSelectiveScanFunction"/> for autograd.</summary>
    public (Tensor Y, Tensor Last) SelectiveScanForward(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor? h0 = null)
    {
        var shape = CheckScan(x, delta, a, b, c, h0);
        return ForDtype(x, k => ScanForward(k, shape, x, delta, a, b, c, h0), k => ScanForward(k, shape, x, delta, a, b, c, h0));
    }

    /// <summary>Gradients of every scan input given dy [B,T,E] and dh_T [B,E,N] (null = zeros).</summary>
    public SelectiveScanGradients SelectiveScanBackward(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor? h0,
                                                        Tensor? dy, Tensor? dLast)
    {
        var shape = CheckScan(x, delta, a, b, c, h0);
        return ForDtype(x, k => ScanBackward(k, shape, x, delta, a, b, c, h0, dy, dLast),
                           k => ScanBackward(k, shape, x, delta, a, b, c, h0, dy, dLast));
    }

    (Tensor Y, Tensor Last) ScanForward<T>(KernelSet<T> kernels, ScanShape s, Tensor x, Tensor delta, Tensor a, Tensor b,
                                            Tensor c, Tensor? h0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long[] yShape = [s.Batch, s.Time, s.Inner], hShape = [s.Batch, s.Inner, s.State];
        return WithBuffers<T, (Tensor, Tensor)>(x, buffers =>
        {
            var v = new ScanForwardViews<T>
            {
                X = buffers.Upload(x), Delta = buffers.Upload(delta), A = buffers.Upload(a), B = buffers.Upload(b),
                C = buffers.Upload(c), H0 = buffers.UploadOrZeros(h0, Count(hShape)),
                Y = buffers.Allocate(Count(yShape)), Last = buffers.Allocate(Count(hShape)),
            };
            int rows = s.Batch * s.Inner;
            if (rows > 0) kernels.ScanForward(rows, s, v);
            return (buffers.Download(v.Y, yShape), buffers.Download(v.Last, hShape));
        });
    }

    SelectiveScanGradients ScanBackward<T>(KernelSet<T> kernels, ScanShape s, Tensor x, Tensor delta, Tensor a, Tensor b,
                                           Tensor c, Tensor? h0, Tensor? dy, Tensor? dLast)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long[] yShape = [s.Batch, s.Time, s.Inner], hShape = [s.Batch, s.Inner, s.State];
        long[] aShape = [s.Inner, s.State], bShape = [s.Batch, s.Time, s.State];
        long perChannel = (long)s.Batch * s.Inner * s.Time * s.State;
        return WithBuffers<T, SelectiveScanGradients>(x, buffers =>
        {
            var v = new ScanBackwardViews<T>
            {
                X = buffers.Upload(x), Delta = buffers.Upload(delta), A = buffers.Upload(a), B = buffers.Upload(b),
                C = buffers.Upload(c), H0 = buffers.UploadOrZeros(h0, Count(hShape)),
                DY = buffers.UploadOrZeros(dy, Count(yShape)), DLast = buffers.UploadOrZeros(dLast, Count(hShape)),
                DX = buffers.Allocate(Count(yShape)), DDelta = buffers.Allocate(Count(yShape)), DH0 = buffers.Allocate(Count(hShape)),
                States = buffers.Allocate(perChannel), PartB = buffers.Allocate(perChannel), PartA = buffers.Allocate(Count(hShape)),
            };
            var dA = buffers.Allocate(Count(aShape));
            var dB = buffers.Allocate(Count(bShape));
            var dC = buffers.Allocate(Count(bShape));
            int rows = s.Batch * s.Inner;
            if (rows > 0)
            {
                kernels.ScanBackward(rows, s, v);
                Sum(kernels, v.PartA, dA, new SumShape(1, s.Batch, s.Inner * s.State));            // over b
                Sum(kernels, v.PartB, dB, new SumShape(s.Batch, s.Inner, s.Time * s.State));       // over e
                Sum(kernels, v.States, dC, new SumShape(s.Batch, s.Inner, s.Time * s.State));      // over e
            }
            else
            {
                dA.MemSetToZero(); dB.MemSetToZero(); dC.MemSetToZero();
            }
            return new SelectiveScanGradients(
                buffers.Download(v.DX, yShape), buffers.Download(v.DDelta, yShape), buffers.Download(dA, aShape),
                buffers.Download(dB, bShape), buffers.Download(dC, bShape), buffers.Download(v.DH0, hShape));
        });
    }

    static ScanShape CheckScan(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor? h0)
    {
        if (x.dim() != 3 || a.dim() != 2) throw new ArgumentException("ILGPU selective scan: x must be [B,T,E] and A [E,N]");
        long batch = x.shape[0], time = x.shape[1], inner = x.shape[2], state = a.shape[1];
        CheckShape(delta, [batch, time, inner], "delta");
        CheckShape(a, [inner, state], "A");
        CheckShape(b, [batch, time, state], "B");
        CheckShape(c, [batch, time, state], "C");
        if (h0 is not null) CheckShape(h0, [batch, inner, state], "h0");
        CheckTypes(x, delta, a, b, c, h0);
        return new ScanShape(checked((int)batch), checked((int)time), checked((int)inner), checked((int)state));
    }

    // ---------------------------------------------------------------- RWKV-4 WKV

    /// <summary>
    /// RWKV-4 WKV (see <see cref="IlgpuScanKernels{T}.WkvForward"/>): decay w (negative, w = −exp(time_decay)) and bonus u
    /// [C], k, v [B,T,C], initial state or null (empty) → y [B,T,C] and the final state. Not differentiable: use
    /// <see cref="IlgpuWkvFunction"/> for autograd.
    /// </summary>
    public WkvResult WkvForward(Tensor w, Tensor u, Tensor k, Tensor v, Wkv4State? initial = null)
    {
        var shape = CheckWkv(w, u, k, v, initial);
        return ForDtype(k, ks => WkvForward(ks, shape, w, u, k, v, initial), ks => WkvForward(ks, shape, w, u, k, v, initial));
    }

    /// <summary>Gradients of w, u, k, v and the initial state given dy [B,T,C] and the final state's gradient (null =
    /// zeros). dw is the gradient with respect to w itself (chain through −exp(time_decay) is the caller's autograd).</summary>
    public WkvGradients WkvBackward(Tensor w, Tensor u, Tensor k, Tensor v, Wkv4State? initial, Tensor? dy, Wkv4State? dFinal)
    {
        var shape = CheckWkv(w, u, k, v, initial);
        if (dFinal is not null) CheckState(dFinal, shape, "final-state gradient");
        return ForDtype(k, ks => WkvBackward(ks, shape, w, u, k, v, initial, dy, dFinal),
                           ks => WkvBackward(ks, shape, w, u, k, v, initial, dy, dFinal));
    }

    WkvResult WkvForward<T>(KernelSet<T> kernels, WkvShape s, Tensor w, Tensor u, Tensor k, Tensor v, Wkv4State? initial)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        initial ??= Wkv4State.Empty(s.Batch, s.Channels, k.dtype);
        long[] yShape = [s.Batch, s.Time, s.Channels], stateShape = [s.Batch, s.Channels];
        return WithBuffers<T, WkvResult>(k, buffers =>
        {
            var views = new WkvForwardViews<T>
            {
                W = buffers.Upload(w), U = buffers.Upload(u), K = buffers.Upload(k), V = buffers.Upload(v),
                A0 = buffers.Upload(initial.A), B0 = buffers.Upload(initial.B), P0 = buffers.Upload(initial.P),
                Y = buffers.Allocate(Count(yShape)), A = buffers.Allocate(Count(stateShape)),
                B = buffers.Allocate(Count(stateShape)), P = buffers.Allocate(Count(stateShape)),
            };
            int rows = s.Batch * s.Channels;
            if (rows > 0) kernels.WkvForward(rows, s, views);
            return new WkvResult(buffers.Download(views.Y, yShape),
                new Wkv4State(buffers.Download(views.A, stateShape), buffers.Download(views.B, stateShape),
                              buffers.Download(views.P, stateShape)));
        });
    }

    WkvGradients WkvBackward<T>(KernelSet<T> kernels, WkvShape s, Tensor w, Tensor u, Tensor k, Tensor v, Wkv4State? initial,
                                Tensor? dy, Wkv4State? dFinal) where T : unmanaged, IFloatingPointIeee754<T>
    {
        initial ??= Wkv4State.Empty(s.Batch, s.Channels, k.dtype);
        long[] yShape = [s.Batch, s.Time, s.Channels], stateShape = [s.Batch, s.Channels], channelShape = [s.Channels];
        long tokens = Count(yShape), states = Count(stateShape);
        return WithBuffers<T, WkvGradients>(k, buffers =>
        {
            var views = new WkvBackwardViews<T>
            {
                W = buffers.Upload(w), U = buffers.Upload(u), K = buffers.Upload(k), V = buffers.Upload(v),
                A0 = buffers.Upload(initial.A), B0 = buffers.Upload(initial.B), P0 = buffers.Upload(initial.P),
                DY = buffers.UploadOrZeros(dy, tokens),
                DA = buffers.UploadOrZeros(dFinal?.A, states), DB = buffers.UploadOrZeros(dFinal?.B, states),
                DP = buffers.UploadOrZeros(dFinal?.P, states),
                SA = buffers.Allocate(tokens), SB = buffers.Allocate(tokens), SP = buffers.Allocate(tokens),
                DK = buffers.Allocate(tokens), DV = buffers.Allocate(tokens),
                DA0 = buffers.Allocate(states), DB0 = buffers.Allocate(states), DP0 = buffers.Allocate(states),
                PartW = buffers.Allocate(states), PartU = buffers.Allocate(states),
            };
            var dw = buffers.Allocate(s.Channels);
            var du = buffers.Allocate(s.Channels);
            int rows = s.Batch * s.Channels;
            if (rows > 0)
            {
                kernels.WkvBackward(rows, s, views);
                Sum(kernels, views.PartW, dw, new SumShape(1, s.Batch, s.Channels));
                Sum(kernels, views.PartU, du, new SumShape(1, s.Batch, s.Channels));
            }
            else
            {
                dw.MemSetToZero(); du.MemSetToZero();
            }
            return new WkvGradients(
                buffers.Download(dw, channelShape), buffers.Download(du, channelShape),
                buffers.Download(views.DK, yShape), buffers.Download(views.DV, yShape),
                new Wkv4State(buffers.Download(views.DA0, stateShape), buffers.Download(views.DB0, stateShape),
                              buffers.Download(views.DP0, stateShape)));
        });
    }

    static WkvShape CheckWkv(Tensor w, Tensor u, Tensor k, Tensor v, Wkv4State? initial)
    {
        if (k.dim() != 3) throw new ArgumentException("ILGPU WKV: k must be [B,T,C]");
        long batch = k.shape[0], time = k.shape[1], channels = k.shape[2];
        CheckShape(w, [channels], "w");
        CheckShape(u, [channels], "u");
        CheckShape(v, [batch, time, channels], "v");
        var shape = new WkvShape(checked((int)batch), checked((int)time), checked((int)channels));
        if (initial is not null) CheckState(initial, shape, "initial state");
        CheckTypes(k, w, u, v, initial?.A, initial?.B, initial?.P);
        return shape;
    }

    static void CheckState(Wkv4State state, WkvShape s, string name)
    {
        CheckShape(state.A, [s.Batch, s.Channels], name + " A");
        CheckShape(state.B, [s.Batch, s.Channels], name + " B");
        CheckShape(state.P, [s.Batch, s.Channels], name + " P");
    }

    // ---------------------------------------------------------------- plumbing

    KernelSet<T> Kernels<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        lock (gate)
        {
            if (typeof(T) == typeof(float)) return (KernelSet<T>)(object)(f32 ??= new KernelSet<float>(Accelerator));
            return (KernelSet<T>)(object)(f64 ??= new KernelSet<double>(Accelerator));
        }
    }

    /// <summary>Runs <paramref name="float32"/> or <paramref name="float64"/> with the kernels of <paramref name="first"/>'s
    /// element type (one lambda per type, as the kernels are generic).</summary>
    TResult ForDtype<TResult>(Tensor first, Func<KernelSet<float>, TResult> float32, Func<KernelSet<double>, TResult> float64) =>
        first.dtype switch
        {
            ScalarType.Float32 => float32(Kernels<float>()),
            ScalarType.Float64 => float64(Kernels<double>()),
            _ => throw UnsupportedType(first),
        };

    static void Sum<T>(KernelSet<T> kernels, ArrayView<T> input, ArrayView<T> output, SumShape shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = shape.Outer * shape.Inner;
        if (count > 0) kernels.SumMiddle(count, shape, input, output);
    }

    static long Count(long[] shape) => shape.Aggregate(1L, (a, b) => a * b);

    static void CheckShape(Tensor t, long[] shape, string name)
    {
        if (!t.shape.SequenceEqual(shape))
            throw new ArgumentException($"ILGPU kernels: {name} has shape [{string.Join(", ", t.shape)}], expected [{string.Join(", ", shape)}]");
    }

    static void CheckTypes(Tensor first, params Tensor?[] others)
    {
        foreach (var t in others)
            if (t is not null && t.dtype != first.dtype)
                throw new ArgumentException($"ILGPU kernels: all inputs must have one dtype ({first.dtype}), got {t.dtype}");
    }

    static ArgumentException UnsupportedType(Tensor t) =>
        new($"ILGPU kernels support float32 and float64 tensors, not {t.dtype}");
}
