using ArchLab.Kernels;
using ArchLab.Mixers;
using TorchSharp;

namespace ArchLab.Tests.TestSupport;

/// <summary>Sets the scan backend of every mixer in a model (per layer, not the process-wide setting).</summary>
public static class ScanBackendOverride
{
    public static T WithScanBackend<T>(this T model, ScanBackend backend) where T : torch.nn.Module
    {
        foreach (var (_, module) in model.named_modules())
        {
            if (module is Mixer mixer) mixer.ScanBackend = backend;
        }
        return model;
    }
}
