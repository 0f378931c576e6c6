using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// The short causal depthwise convolution that Mamba, Mamba-2 and Gated DeltaNet run before their recurrence (kernel K,
/// one filter per channel, weight [channels, 1, K] as PyTorch's grouped Conv1d stores it). It is carried across calls by
/// its last K − 1 inputs, oldest first, which is also what the layer's state stores: zeros before the first token play
/// the part of the convolution's left padding, so a sequence cut into pieces gives the same outputs as in one piece.
/// No activation is applied here.
/// </summary>
public static class CausalConvolution
{
    /// <summary>
    /// A chunk x [batch, time, channels] after <paramref name="history"/> [batch, channels, K − 1] (null: zeros) →
    /// the outputs [batch, time, channels] and the last K − 1 inputs [batch, channels, K − 1] for the next call.
    /// </summary>
    public static (Tensor Output, Tensor Tail) Forward(Tensor x, Tensor weight, Tensor? bias, Tensor? history)
    {
        long batch = x.shape[0], time = x.shape[1], channels = x.shape[2], kernel = weight.shape[2];
        history ??= zeros(batch, channels, kernel - 1, dtype: x.dtype, device: x.device);
        var input = cat([history, x.transpose(1, 2)], 2);                                     // [B, C, K−1+T]
        var output = nn.functional.conv1d(input, weight, bias, groups: channels).transpose(1, 2);
        return (output, input.narrow(2, time, kernel - 1).contiguous());
    }

    /// <summary>
    /// One token x [batch, channels] after <paramref name="history"/> [batch, channels, K − 1] → the output
    /// [batch, channels] (the window times the filter, summed: the official step's form) and the window's new tail.
    /// </summary>
    public static (Tensor Output, Tensor Tail) Step(Tensor x, Tensor weight, Tensor? bias, Tensor history)
    {
        long kernel = weight.shape[2];
        var window = cat([history, x.unsqueeze(-1)], -1);                                   // [B, C, K]
        var output = (window * weight.squeeze(1)).sum(-1);
        if (bias is not null) output = output + bias;
        return (output, window.narrow(-1, 1, kernel - 1).contiguous());
    }
}
