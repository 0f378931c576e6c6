namespace ArchLab.Notebooks.Display;

/// <summary>Text shown as markdown by <c>display</c>.</summary>
public sealed record Markdown(string Text);
