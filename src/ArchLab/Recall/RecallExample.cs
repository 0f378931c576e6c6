using System.Security.Cryptography;

namespace ArchLab.Recall;

/// <summary>
/// One synthetic sequence: input ids and, at the same positions, the id the model must predict there, or
/// <see cref="Ignore"/> where nothing is scored (the loss and the accuracy count only the other positions).
/// </summary>
public sealed record RecallExample(int[] Inputs, int[] Targets)
{
    /// <summary>Target of a position that is not scored (PyTorch's cross-entropy ignore_index).</summary>
    public const int Ignore = -100;

    public int Length => Inputs.Length;

    /// <summary>Positions that carry a target.</summary>
    public IEnumerable<int> ScoredPositions => Enumerable.Range(0, Targets.Length).Where(i => Targets[i] != Ignore);

    /// <summary>SHA-256 of inputs and targets (little-endian int32s): equal examples have equal hashes.</summary>
    public string ContentHash()
    {
        var bytes = new byte[(Inputs.Length + Targets.Length) * sizeof(int)];
        Buffer.BlockCopy(Inputs, 0, bytes, 0, Inputs.Length * sizeof(int));
        Buffer.BlockCopy(Targets, 0, bytes, Inputs.Length * sizeof(int), Targets.Length * sizeof(int));
        return Convert.ToHexString(SHA256.HashData(bytes));
    }
}
