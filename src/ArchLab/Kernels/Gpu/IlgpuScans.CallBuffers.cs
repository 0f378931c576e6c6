using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace ArchLab.Kernels.Gpu;

public sealed partial class IlgpuScans
{
    /// <summary>Runs one call's device work under the lock with fresh buffers, freed when <paramref name="body"/> returns.
    /// Results are downloaded in the dtype and onto the device of <paramref name="like"/>.</summary>
    TResult WithBuffers<T, TResult>(Tensor like, Func<CallBuffers<T>, TResult> body) where T : unmanaged
    {
        lock (gate)
        {
            using var buffers = new CallBuffers<T>(Accelerator, like.dtype, like.device);
            return body(buffers);
        }
    }

    /// <summary>The device buffers of one call, freed together, and the dtype and device its results go back to.</summary>
    sealed class CallBuffers<T>(Accelerator accelerator, ScalarType dtype, Device device) : IDisposable where T : unmanaged
    {
        readonly List<MemoryBuffer1D<T, Stride1D.Dense>> buffers = [];

        /// <summary>An uninitialised buffer of <paramref name="count"/> elements (at least one is allocated).</summary>
        public ArrayView<T> Allocate(long count)
        {
            var buffer = accelerator.Allocate1D<T>(Math.Max(1, count));
            buffers.Add(buffer);
            return buffer.View.SubView(0, count);
        }

        public ArrayView<T> Zeros(long count)
        {
            var view = Allocate(count);
            if (count > 0) view.MemSetToZero();
            return view;
        }

        /// <summary>A buffer holding the tensor's values in row-major order (copied via a contiguous CPU copy).</summary>
        public ArrayView<T> Upload(Tensor tensor)
        {
            using var host = tensor.detach().cpu().contiguous();
            long count = host.numel();
            var view = Allocate(count);
            if (count > 0)
                view.CopyFromCPU(ref MemoryMarshal.GetReference(MemoryMarshal.Cast<byte, T>(host.bytes)), count);
            return view;
        }

        /// <summary><see cref="Upload"/> of an optional input; null stands for <paramref name="count"/> zeros.</summary>
        public ArrayView<T> UploadOrZeros(Tensor? tensor, long count) => tensor is null ? Zeros(count) : Upload(tensor);

        /// <summary>A new tensor with the contents of a device buffer (copied through host memory), in the call's dtype and
        /// on its device.</summary>
        public Tensor Download(ArrayView<T> view, long[] shape)
        {
            accelerator.Synchronize();
            var result = empty(shape, dtype: dtype);
            long count = Count(shape);
            if (count > 0)
                view.SubView(0, count).CopyToCPU(ref MemoryMarshal.GetReference(MemoryMarshal.Cast<byte, T>(result.bytes)), count);
            return device.type == TorchSharp.DeviceType.CPU ? result : result.to(device);
        }

        public void Dispose()
        {
            foreach (var buffer in buffers) buffer.Dispose();
        }
    }
}
