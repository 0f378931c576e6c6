using ArchLab.Recall;

namespace ArchLab.Tests.Recall;

public class MqarTaskTests
{
    static readonly MqarTask Task = new(vocabSize: 512, seqLen: 128, kvPairs: 16);

    static IEnumerable<RecallExample> Examples(int seed, int count)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Task.Generate(rng)).ToList();
    }

    [Fact]
    public void PairsComeFirstWithKeysAndValuesFromTheirHalvesOfTheVocabulary()
    {
        foreach (var e in Examples(1, 200))
        {
            Assert.Equal(128, e.Length);
            var keys = Enumerable.Range(0, 16).Select(i => e.Inputs[2 * i]).ToArray();
            var values = Enumerable.Range(0, 16).Select(i => e.Inputs[2 * i + 1]).ToArray();
            Assert.All(keys, k => Assert.InRange(k, 1, 255));
            Assert.All(values, v => Assert.InRange(v, 256, 511));
            Assert.Equal(16, keys.Distinct().Count());
            Assert.Equal(16, values.Distinct().Count());
            Assert.All(e.Inputs, t => Assert.InRange(t, 0, 511));
        }
    }

    [Fact]
    public void EveryQueryIsAKeyFromThePairsAndItsTargetIsThatKeysValue()
    {
        foreach (var e in Examples(2, 200))
        {
            var scored = e.ScoredPositions.ToList();
            Assert.Equal(16, scored.Count); // one query per pair, every other target ignored
            Assert.Equal(128 - 16, e.Targets.Count(t => t == RecallExample.Ignore));
            var queried = new HashSet<int>();
            foreach (int q in scored)
            {
                Assert.True(q >= 32 && (q - 32) % 2 == 0, $"query at {q}: not an even offset after the pairs");
                int key = e.Inputs[q];
                int pair = Enumerable.Range(0, 16).Single(i => e.Inputs[2 * i] == key); // the key appears earlier, once among the pairs
                Assert.True(2 * pair + 1 < q);
                Assert.Equal(e.Inputs[2 * pair + 1], e.Targets[q]);
                queried.Add(key);
            }
            Assert.Equal(16, queried.Count); // each key queried exactly once
        }
    }

    [Fact]
    public void SmallPowerFavoursShortGapsAndPowerOneIsUniform()
    {
        var skewed = Sampling.PowerLaw(48, 0.01);
        var uniform = Sampling.PowerLaw(48, 1.0);
        Assert.Equal(1.0, skewed.Sum(), 9);
        Assert.True(skewed[0] > 10 * skewed[47]);
        Assert.All(uniform, p => Assert.Equal(1.0 / 48, p, 12));
        // measured over examples: with power 0.01 the first query slot is taken far more often than the last
        var firstSlot = Examples(3, 400).Count(e => e.Targets[32] != RecallExample.Ignore);
        var lastSlot = Examples(3, 400).Count(e => e.Targets[126] != RecallExample.Ignore);
        Assert.True(firstSlot > 3 * lastSlot, $"first slot {firstSlot}, last slot {lastSlot}");
    }

    [Fact]
    public void WithoutRandomFillTheGapsAreZero()
    {
        var task = new MqarTask(64, 32, 4, randomNonQueries: false);
        var e = task.Generate(new Random(5));
        var used = Enumerable.Range(0, 8).Concat(e.ScoredPositions).ToHashSet();
        Assert.All(Enumerable.Range(0, 32).Where(t => !used.Contains(t)), t => Assert.Equal(0, e.Inputs[t]));
    }

    [Fact]
    public void SameSeedSameExamplesOtherSeedOthers()
    {
        var a = Examples(7, 20).ToList();
        var b = Examples(7, 20).ToList();
        var c = Examples(8, 20).ToList();
        Assert.Equal(a.Select(e => e.ContentHash()), b.Select(e => e.ContentHash()));
        Assert.Equal(a[0].Inputs, b[0].Inputs);
        Assert.NotEqual(a.Select(e => e.ContentHash()), c.Select(e => e.ContentHash()));
    }

    [Theory]
    [InlineData(512, 127, 16)] // odd length
    [InlineData(512, 60, 16)]  // pairs and queries do not fit
    [InlineData(20, 128, 16)]  // too few keys
    [InlineData(512, 128, 0)]
    public void RejectsImpossibleShapes(int vocab, int seqLen, int pairs) =>
        Assert.Throws<ArgumentException>(() => new MqarTask(vocab, seqLen, pairs));
}
