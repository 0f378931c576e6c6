namespace ArchLab.Training;

/// <summary>Linear warmup to the peak, then cosine decay to peak × minRatio at the last step (the schedule spans the whole run).</summary>
public static class LearningRateSchedule
{
    public static double At(long step, long totalSteps, double peak, long warmupSteps, double minRatio)
    {
        if (warmupSteps > 0 && step < warmupSteps) return peak * (step + 1) / warmupSteps;
        long decaySteps = Math.Max(1, totalSteps - 1 - warmupSteps);
        double progress = Math.Clamp((double)(step - warmupSteps) / decaySteps, 0, 1);
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * progress));
        return peak * (minRatio + (1 - minRatio) * cosine);
    }
}
