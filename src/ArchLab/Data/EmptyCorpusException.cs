namespace ArchLab.Data;

/// <summary>Thrown when the paths given for a corpus hold no usable text; the message names the paths.</summary>
public sealed class EmptyCorpusException(string message) : ArgumentException(message);
