using ArchLab.Notebooks;

namespace ArchLab.Tests.Notebooks;

public class CellSourceTests
{
    [Fact]
    public void MagicAndNuGetLinesBecomeBlankLinesSoLineNumbersStay()
    {
        var cell = CellSource.Parse("#!csharp\n#r \"nuget: Foo.Bar, 1.2.3\"\n#r \"nuget:Baz\"\nvar x = 1;\n#!time\nx");
        Assert.Equal("\n\n\nvar x = 1;\n\nx", cell.Code);
        Assert.Equal([new PackageRequest("Foo.Bar", "1.2.3", 2), new PackageRequest("Baz", null, 3)], cell.Packages);
        Assert.True(cell.IsCSharp);
    }

    [Fact]
    public void OtherKernelsAreNotCSharp()
    {
        Assert.False(CellSource.Parse("#!fsharp\nlet x = 1").IsCSharp);
        Assert.False(CellSource.Parse("Get-ChildItem", metadataLanguage: "pwsh").IsCSharp);
        Assert.True(CellSource.Parse("var x = 1; // #!fsharp later is just a comment").IsCSharp);
    }

    [Fact]
    public void ReferencesToAssembliesTheRunnerProvidesBecomeBlankLines()
    {
        var provided = new HashSet<string>(["ArchLab", "TorchSharp"], StringComparer.OrdinalIgnoreCase);
        var cell = CellSource.Parse("#r \"../src/ArchLab.Cli/bin/Release/net10.0/ArchLab.dll\"\n#r \"lib/My.dll\"\n#r \"x/torchsharp.dll\"\nvar x = 1;", null, provided);
        Assert.Equal("\n#r \"lib/My.dll\"\n\nvar x = 1;", cell.Code);
    }

    [Fact]
    public void PathReferencesAreLeftToRoslyn()
    {
        var cell = CellSource.Parse("#r \"lib/My.dll\"\nMy.Thing.Do();");
        Assert.Empty(cell.Packages);
        Assert.StartsWith("#r \"lib/My.dll\"", cell.Code);
    }
}
