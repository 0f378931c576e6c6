using ArchLab.Data;

namespace ArchLab.Tests.Data;

public class CorpusSplitterTests
{
    static List<Document> Docs(int n) =>
        Enumerable.Range(0, n).Select(i => new Document($"doc{i:D3}", $"text of document {i:D3}\n")).ToList();

    [Fact]
    public void SplitByDocument_IsDeterministicDisjointAndFivePercent()
    {
        var docs = Docs(100);
        var shuffled = docs.OrderBy(d => d.Text.GetHashCode()).ToList(); // input order must not matter
        var (train1, val1) = CorpusSplitter.Split(docs);
        var (train2, val2) = CorpusSplitter.Split(shuffled);
        Assert.Equal(train1, train2);
        Assert.Equal(val1, val2);

        var valDocs = docs.Where(d => val1.Contains(d.Text)).ToList();
        var trainDocs = docs.Where(d => train1.Contains(d.Text)).ToList();
        Assert.Equal(5, valDocs.Count);
        Assert.Equal(95, trainDocs.Count);
        Assert.Empty(valDocs.Intersect(trainDocs));
        Assert.Equal(["doc019", "doc039", "doc059", "doc079", "doc099"], valDocs.Select(d => d.Name));
    }

    [Fact]
    public void FewDocuments_SplitByTailAtLineBoundary()
    {
        string text = string.Concat(Enumerable.Range(0, 200).Select(i => $"line {i:D3}\n"));
        var (train, val) = CorpusSplitter.Split([new Document("only", text)]);
        Assert.Equal(text, train + val);
        Assert.EndsWith("\n", train);
        Assert.StartsWith("line ", val);
        Assert.InRange(val.Length, text.Length * 0.03, text.Length * 0.07);
    }
}
