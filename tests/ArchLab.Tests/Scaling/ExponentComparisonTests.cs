using ArchLab.Scaling;

namespace ArchLab.Tests.Scaling;

public class ExponentComparisonTests
{
    /// <summary>An approach fit whose bootstrap exponents are <paramref name="samples"/>, their 95% interval around <paramref name="a"/>.</summary>
    static ApproachFit Fit(double a, double[] samples) => new()
    {
        NExponent = ChinchillaFits.Interval(a, samples),
        NExponentSamples = samples,
    };

    /// <summary>Evenly spread exponents from <paramref name="low"/> to <paramref name="high"/>.</summary>
    static double[] Spread(double low, double high, int count = 101) =>
        Enumerable.Range(0, count).Select(i => low + (high - low) * i / (count - 1)).ToArray();

    [Fact]
    public void APublishedValueIsInsideBelowOrAboveTheInterval()
    {
        var wide = ExponentComparison.Check("wide", new Estimate(0.49, 0.47, 0.52));
        Assert.Equal([Position.Inside, Position.Inside, Position.Below, Position.Inside],
                     wide.References.Select(r => r.Position)); // Chinchilla's 0.50, 0.49 inside, its 0.46 below; Epoch's 0.513 inside
        var large = ExponentComparison.Check("large", new Estimate(0.60, 0.58, 0.67));
        Assert.All(large.References, r => Assert.Equal(Position.Below, r.Position));
        var small = ExponentComparison.Check("small", new Estimate(0.40, 0.35, 0.45));
        Assert.All(small.References, r => Assert.Equal(Position.Above, r.Position));
    }

    [Fact]
    public void ADifferenceIsSupportedOnlyWhenItsIntervalExcludesZero()
    {
        var mamba = Fit(0.77, Spread(0.72, 0.80));
        var transformer = Fit(0.60, Spread(0.55, 0.66));
        var retnet = Fit(0.65, Spread(0.58, 0.75));

        var apart = ExponentComparison.Difference("mamba", mamba, "transformer", transformer);
        Assert.Equal(0.17, apart.Difference.Value, 12);
        Assert.True(apart.Supported);
        Assert.InRange(apart.Difference.Low, 0.06, 0.17);   // every pair differs by 0.06 to 0.25
        Assert.InRange(apart.Difference.High, 0.17, 0.25);

        var reversed = ExponentComparison.Difference("transformer", transformer, "mamba", mamba);
        Assert.True(reversed.Supported);
        Assert.Equal(-apart.Difference.High, reversed.Difference.Low, 12);

        var overlapping = ExponentComparison.Difference("retnet", retnet, "transformer", transformer);
        Assert.False(overlapping.Supported);
        Assert.True(overlapping.Difference.Low < 0 && overlapping.Difference.High > 0);
    }

    [Fact]
    public void ADifferenceThatTenPairsTogetherDoNotSupportIsNotSupportedJointly()
    {
        // differences spread evenly over −0.001…0.099: the 95% interval (2.5–97.5 %, from 0.0015) excludes 0, the 99.5%
        // one of ten pairs together (0.25–99.75 %, from −0.00075) does not
        var x = Fit(0.549, Spread(0.499, 0.599, 1001));
        var y = Fit(0.50, [0.50]);
        var one = ExponentComparison.Difference("x", x, "y", y, comparisons: 1);
        Assert.Equal(one.Difference, one.Jointly);
        var ten = ExponentComparison.Difference("x", x, "y", y, comparisons: 10);
        Assert.True(ten.Supported);
        Assert.False(ten.SupportedJointly);
        Assert.InRange(ten.Jointly.Low, -0.001, 0);
        Assert.True(ten.Jointly.Low < ten.Difference.Low && ten.Jointly.High > ten.Difference.High);
    }

    [Fact]
    public void AFitWithoutBootstrapExponentsCannotBeCompared()
    {
        var none = new ApproachFit { NExponent = new Estimate(0.5, double.NaN, double.NaN) };
        var e = Assert.Throws<ArgumentException>(() => ExponentComparison.Difference("a", none, "b", Fit(0.6, Spread(0.5, 0.7))));
        Assert.Contains("no bootstrap fits", e.Message);
    }

    [Fact]
    public void TheMarkdownListsEveryArchitectureAndEveryPair()
    {
        ArchitectureFits Arch(string name, ApproachFit? a3) => new(name, 10, "non_embedding", null, null, a3, []);
        var fits = new[]
        {
            Arch("transformer", Fit(0.60, Spread(0.55, 0.66))),
            Arch("mamba", Fit(0.77, Spread(0.72, 0.80))),
            Arch("retnet", Fit(0.65, Spread(0.58, 0.75))),
            Arch("failed", null), // approach 3 did not fit: left out, not a crash
        };
        string md = ExponentComparison.Markdown(fits, "non-embedding", "archlab fit x");
        Assert.Contains("| transformer | 0.600 [0.553, 0.657] | a larger | a larger | a larger | a larger |", md);
        Assert.Contains("| transformer − mamba | -0.170 [", md);
        Assert.Contains("| yes |", md);
        Assert.Contains("| mamba − retnet | 0.120 [", md);
        Assert.Contains("98.33 % interval that holds for all 3 pairs together", md);
        Assert.Equal(3, md.Split('\n').Count(l => l.EndsWith("| yes |") || l.EndsWith("| no |")));
        Assert.DoesNotContain("failed", md);
    }
}
