using ArchLab.Kernels;
using ArchLab.Mixers;
using TorchSharp;

namespace ArchLab.Tests.TestSupport;

/// <summary>Sets the scan backend of every Mamba and RWKV-4 time-mixing layer in a model (per layer, so tests running in
/// parallel do not race on the process-wide setting).</summary>
public static class ScanBackendOverride
{
    public static T WithScanBackend<T>(this T model, ScanBackend backend) where T : torch.nn.Module
    {
        foreach (var (_, module) in model.named_modules())
        {
            if (module is Mamba mamba) mamba.ScanBackend = backend;
            if (module is Rwkv4TimeMix timeMix) timeMix.WkvBackend = backend;
        }
        return model;
    }
}
