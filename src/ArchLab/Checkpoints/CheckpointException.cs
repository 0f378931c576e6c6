namespace ArchLab.Checkpoints;

/// <summary>A checkpoint that cannot be loaded: missing file, missing or misshapen tensor, unknown layout. The message names the culprit.</summary>
public sealed class CheckpointException(string message) : Exception(message);
