using ArchLab.Data;

namespace ArchLab.Tests.Data;

public class BrownDetaggerTests
{
    // Handcrafted in Brown form C: a leading tab starts a paragraph, one sentence per line, blank lines between.
    const string Tagged =
        "\n\n\tThe/at jury/nn said/vbd ``/`` it/pps is/bez ,/, in/in fact/nn ,/, fine/jj ''/'' ./.\n\n\n" +
        "Did/dod Atlanta's/np$ mayor/nn (/( Ivan/np Allen/np )/) agree/vb ?/.\n" +
        "It/pps was/bedz Allen/np Jr./np ./.\n\n\n" +
        "\tHe/pps said/vbd ,/, '/' Don't/do* worry/vb '/' ;/. counts/nns //in minute/nn --/-- fine/jj !/.\n";

    [Fact]
    public void Detag_StripsTagsAndRejoinsPunctuation()
    {
        string text = BrownDetagger.Detag(Tagged);
        Assert.Equal(
            "The jury said \"it is, in fact, fine\".\n" +
            "Did Atlanta's mayor (Ivan Allen) agree?\n" +
            "It was Allen Jr.\n" +
            "\n" +
            "He said, 'Don't worry'; counts/minute -- fine!\n",
            text);
    }

    [Theory]
    [InlineData("Atlanta's/np$", "Atlanta's")]
    [InlineData("//in", "/")]
    [InlineData("1/2/cd", "1/2")]
    [InlineData("notag", "notag")]
    public void StripTag_KeepsTheWord(string token, string word) => Assert.Equal(word, BrownDetagger.StripTag(token));
}
