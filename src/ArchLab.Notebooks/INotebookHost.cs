namespace ArchLab.Notebooks;

/// <summary>
/// What runs a notebook's cells: <c>archlab notebook run</c> (<see cref="NotebookRunner"/>) or the .NET Interactive kernel
/// (<see cref="KernelHost"/>). <see cref="NotebookGlobals"/> forwards to the current one.
/// </summary>
public interface INotebookHost
{
    /// <summary>Tiny settings (CI): <c>ARCHLAB_QUICK=1</c>, which <c>notebook run --quick</c> sets.</summary>
    bool Quick { get; }
    string NotebookDir { get; }
    string OutputDir { get; }
    string ScratchDir { get; }
    /// <summary>Tripped by the kernel's interrupt or by Ctrl+C in the runner; long library calls take it.</summary>
    CancellationToken Interrupt { get; }
    /// <summary>Shows a value in the running cell's output.</summary>
    void Display(object? value);
}
