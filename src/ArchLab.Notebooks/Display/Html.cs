namespace ArchLab.Notebooks.Display;

/// <summary>An HTML snippet shown by <c>display</c>.</summary>
public sealed record Html(string Text);
