using static TorchSharp.torch;

namespace ArchLab.Mixers;

/// <summary>
/// RetNet's recurrent state, as torchscale's recurrent_forward keeps it: the scale accumulator sₙ = Σ_{m&lt;n} γᵐ per head
/// ([heads]) and the key-value memory normalised by it, Kv = Uₙ / √sₙ with Uₙ = Σ_{j&lt;n} γ^(n−1−j) k_j v_jᵀ
/// ([batch, heads, keyDim, valueDim]). At position 0 both are zero. The size does not depend on the length.
/// </summary>
public sealed class RetentionState : MixerState
{
    public Tensor Kv { get; private set; }
    public Tensor Scale { get; private set; }

    public RetentionState(long batch, long heads, long keyDim, long valueDim, ScalarType dtype, Device device)
    {
        Kv = Keep(zeros([batch, heads, keyDim, valueDim], dtype, device));
        Scale = Keep(zeros([heads], dtype, device));
    }

    /// <summary>A state at <paramref name="position"/> holding the given tensors (taken over, not copied).</summary>
    public RetentionState(Tensor kv, Tensor scale, long position)
    {
        Kv = Keep(kv);
        Scale = Keep(scale);
        Position = position;
    }

    protected override IEnumerable<Tensor> Tensors => [Kv, Scale];

    /// <summary>Replaces the tensors (keeping their autograd history, so gradients flow across calls) and moves to <paramref name="position"/>.</summary>
    internal void Update(Tensor kv, Tensor scale, long position)
    {
        var (oldKv, oldScale) = (Kv, Scale);
        Kv = Keep(kv);
        Scale = Keep(scale);
        oldKv.Dispose();
        oldScale.Dispose();
        Position = position;
    }
}
