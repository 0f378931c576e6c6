namespace ArchLab.IO;

/// <summary>Opens a file the user named, with one-line errors for the usual mistakes (no such file, a folder instead of a file).</summary>
public static class InputFile
{
    /// <summary>Throws <see cref="FileNotFoundException"/> naming <paramref name="what"/> and the path unless it is an existing file.</summary>
    public static void Require(string path, string what)
    {
        if (Directory.Exists(path)) throw new FileNotFoundException($"{what} '{path}' is a folder, not a file", path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{what} '{path}' does not exist", path);
    }

    public static string ReadAllText(string path, string what)
    {
        Require(path, what);
        return File.ReadAllText(path);
    }
}
