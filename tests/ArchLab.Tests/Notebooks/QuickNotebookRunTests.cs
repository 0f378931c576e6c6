using ArchLab.Data;
using ArchLab.Tests.TestSupport;

namespace ArchLab.Tests.Notebooks;

/// <summary>CI executes every committed notebook in quick mode (tiny settings), headless, through the real CLI; the
/// outputs go to a scratch folder so the committed notebooks keep the outputs of their full run.</summary>
[Trait("Category", Category.Slow)]
[Collection(NotebookProcesses.Name)]
public class QuickNotebookRunTests
{
    [Fact]
    public void EveryCommittedNotebookRunsInQuickMode()
    {
        string root = CacheDirectory.FindRepoRoot(AppContext.BaseDirectory)
                      ?? throw new InvalidOperationException("repository root not found");
        string notebooks = Path.Combine(root, "notebooks");
        Assert.NotEmpty(Directory.GetFiles(notebooks, "*.ipynb"));
        string output = Directory.CreateTempSubdirectory("archlab-quick-notebooks-").FullName;
        try
        {
            // One libtorch thread: on a busy 2-core machine two threads spin (02-modes ran 3.7× slower with two).
            var (exit, stdout, stderr) = ArchLabCli.Run(TimeSpan.FromMinutes(12),
                "notebook", "run", notebooks, "--quick", "--out", output, "--cell-timeout", "300", "--threads", "1");
            Assert.True(exit == 0, $"notebook run --quick failed (exit {exit}):\n{stderr}\n{stdout}");
            foreach (string notebook in Directory.GetFiles(notebooks, "*.ipynb"))
                Assert.True(File.Exists(Path.Combine(output, Path.GetFileName(notebook))), $"no executed copy of {notebook}");
        }
        finally { Directory.Delete(output, true); }
    }
}
