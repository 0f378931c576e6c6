using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace ArchLab.Kernels.Gpu;

public sealed partial class IlgpuScans
{
    /// <summary>The compiled kernels for one element type, loaded on an accelerator.</summary>
    sealed class KernelSet<T>(Accelerator accelerator) where T : unmanaged, IFloatingPointIeee754<T>
    {
        public readonly Action<Index1D, ScanShape, ScanForwardViews<T>> ScanForward =
            accelerator.LoadAutoGroupedStreamKernel<Index1D, ScanShape, ScanForwardViews<T>>(IlgpuScanKernels<T>.SelectiveScanForward);
        public readonly Action<Index1D, ScanShape, ScanBackwardViews<T>> ScanBackward =
            accelerator.LoadAutoGroupedStreamKernel<Index1D, ScanShape, ScanBackwardViews<T>>(IlgpuScanKernels<T>.SelectiveScanBackward);
        public readonly Action<Index1D, WkvShape, WkvForwardViews<T>> WkvForward =
            accelerator.LoadAutoGroupedStreamKernel<Index1D, WkvShape, WkvForwardViews<T>>(IlgpuScanKernels<T>.WkvForward);
        public readonly Action<Index1D, WkvShape, WkvBackwardViews<T>> WkvBackward =
            accelerator.LoadAutoGroupedStreamKernel<Index1D, WkvShape, WkvBackwardViews<T>>(IlgpuScanKernels<T>.WkvBackward);
        public readonly Action<Index1D, SsdShape, SsdForwardViews<T>> SsdForward =
            accelerator.LoadAutoGroupedStreamKernel<Index1D, SsdShape, SsdForwardViews<T>>(IlgpuScanKernels<T>.SsdForward);
        public readonly Action<Index1D, SsdShape, SsdBackwardViews<T>> SsdBackward =
            accelerator.LoadAutoGroupedStreamKernel<Index1D, SsdShape, SsdBackwardViews<T>>(IlgpuScanKernels<T>.SsdBackward);
        public readonly Action<Index1D, Wkv7Shape, Wkv7ForwardViews<T>> Wkv7Forward =
            accelerator.LoadAutoGroupedStreamKernel<Index1D, Wkv7Shape, Wkv7ForwardViews<T>>(IlgpuScanKernels<T>.Wkv7Forward);
        public readonly Action<Index1D, Wkv7Shape, Wkv7BackwardViews<T>> Wkv7Backward =
            accelerator.LoadAutoGroupedStreamKernel<Index1D, Wkv7Shape, Wkv7BackwardViews<T>>(IlgpuScanKernels<T>.Wkv7Backward);
        public readonly Action<Index1D, DeltaRuleShape, DeltaRuleForwardViews<T>> DeltaRuleForward =
            accelerator.LoadAutoGroupedStreamKernel<Index1D, DeltaRuleShape, DeltaRuleForwardViews<T>>(IlgpuScanKernels<T>.GatedDeltaRuleForward);
        public readonly Action<Index1D, DeltaRuleShape, DeltaRuleBackwardViews<T>> DeltaRuleBackward =
            accelerator.LoadAutoGroupedStreamKernel<Index1D, DeltaRuleShape, DeltaRuleBackwardViews<T>>(IlgpuScanKernels<T>.GatedDeltaRuleBackward);
        public readonly Action<Index1D, SumShape, ArrayView<T>, ArrayView<T>> SumMiddle =
            accelerator.LoadAutoGroupedStreamKernel<Index1D, SumShape, ArrayView<T>, ArrayView<T>>(IlgpuScanKernels<T>.SumMiddle);
    }
}
