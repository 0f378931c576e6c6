using Xunit;

// In-process tests run one at a time: every test class without a [Collection] attribute is in the one assembly-wide
// collection, whose tests xunit runs serially. libtorch has one global random generator: many tests seed it
// (torch.manual_seed) and then draw inputs or initialise modules twice expecting the same numbers, and the trainer seeds
// it too. With xunit's default of one collection per class run in parallel, another class reseeding or drawing in between
// made such tests fail at random (CI saw RWKV-4 chunked-vs-parallel gradients differ by O(1) because the two inputs were
// different draws).
//
// The notebook runs are the exception (NotebookProcesses): they execute in child processes (the CLI, the Jupyter kernel),
// share nothing with the test host's libtorch, and are 60 % of the suite's time, so their collection runs beside the
// serial one. Two collections at most at once: the machine CI runs on has 2 cores.
[assembly: CollectionBehavior(CollectionBehavior.CollectionPerAssembly, MaxParallelThreads = 2)]

namespace ArchLab.Tests.TestSupport;

/// <summary>The test classes that run notebooks in child processes: serial among themselves, in parallel with the
/// in-process tests (see the comment at the top of this file).</summary>
[CollectionDefinition(Name)]
public sealed class NotebookProcesses
{
    public const string Name = "notebook processes";
}
