using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using ArchLab.Engine.Matrices;

namespace ArchLab.Engine;

/// <summary>
/// A depthwise causal convolution stepped one token at a time: its weights tap-major, [kernel, channels] (the module's are
/// [channels, 1, kernel]), so each tap is one vector operation over all channels, and an optional bias. The window of the
/// last kernel − 1 inputs is kept the same way, [batch, kernel − 1, channels], oldest first.
/// </summary>
public sealed class LeanCausalConvolution
{
    readonly float[] taps;
    readonly float[]? bias;

    /// <summary>Takes the module's weights [channels, 1, kernel] (flattened) and bias [channels].</summary>
    public LeanCausalConvolution(float[] weight, float[]? bias, int kernel)
    {
        Kernel = kernel;
        Channels = weight.Length / kernel;
        this.bias = bias;
        taps = new float[weight.Length];
        for (int c = 0; c < Channels; c++)
            for (int j = 0; j < kernel; j++) taps[j * Channels + c] = weight[c * kernel + j];
    }

    public int Channels { get; }
    public int Kernel { get; }

    public long WeightBytes => 4L * taps.Length;

    /// <summary>Values in the window of <paramref name="batch"/> sequences.</summary>
    public int WindowLength(int batch) => batch * (Kernel - 1) * Channels;

    /// <summary>One sequence's step: output = Σ taps · [window; input] (+ bias); the window then moves on by the input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Step(ReadOnlySpan<float> input, Span<float> output, Span<float> window)
    {
        int size = Kernel - 1;
        TensorPrimitives.Multiply(input, taps.AsSpan(size * Channels, Channels), output);
        for (int j = 0; j < size; j++)
            TensorPrimitives.MultiplyAdd(window.Slice(j * Channels, Channels), taps.AsSpan(j * Channels, Channels), output, output);
        if (bias is not null) TensorPrimitives.Add(output, bias, output);
        if (size > 0)
        {
            window[Channels..].CopyTo(window);
            input.CopyTo(window[((size - 1) * Channels)..]);
        }
    }

    /// <summary>A module's conv state [batch, channels, kernel − 1] into a lean window [batch, kernel − 1, channels];
    /// <paramref name="owner"/> names the layer in the error when the sizes differ.</summary>
    public void ImportWindow(TorchSharp.torch.Tensor conv, float[] window, string owner)
    {
        var values = LeanMatrix.ToFloats(conv);
        int size = Kernel - 1, batch = window.Length / Math.Max(1, size * Channels);
        if (values.Length != window.Length) throw new ArgumentException($"{owner} conv state has {values.Length} values, the lean state {window.Length}");
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < Channels; c++)
                for (int j = 0; j < size; j++) window[(b * size + j) * Channels + c] = values[(b * Channels + c) * size + j];
    }
}
