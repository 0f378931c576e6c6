namespace ArchLab.Engine;

/// <summary>
/// Everything the engine keeps for a batch of sequences decoded together: each layer's state (KV cache or recurrent
/// state) and scratch, the residual stream and the logits of the last step. All allocated here, once.
/// </summary>
public sealed class LeanState
{
    public int Batch { get; }
    public int MaxLength { get; }

    /// <summary>Tokens consumed so far by every sequence (the position of the next token).</summary>
    public int Position { get; internal set; }

    internal LeanLayerState[] Mixers { get; }
    internal LeanLayerState?[] Mlps { get; }

    internal float[] Hidden { get; }   // [batch, dim]: the residual stream
    internal float[] Normed { get; }   // [batch, dim]
    internal float[] Output { get; }   // [batch, dim]: a layer's output before it is added
    internal float[] Logits { get; }   // [batch, vocab]

    internal LeanState(int batch, int maxLength, int dim, int vocab, LeanLayerState[] mixers, LeanLayerState?[] mlps)
    {
        Batch = batch;
        MaxLength = maxLength;
        Mixers = mixers;
        Mlps = mlps;
        Hidden = new float[batch * dim];
        Normed = new float[batch * dim];
        Output = new float[batch * dim];
        Logits = new float[batch * vocab];
    }

    /// <summary>Bytes of state carried between tokens, all layers (KV caches at their allocated capacity).</summary>
    public long Bytes => Mixers.Sum(s => s.Bytes) + Mlps.Sum(s => s?.Bytes ?? 0);
}
