package dev.fluxerase.erase;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Training progress, one line per step (steps take seconds to minutes, and each line's losses are worth keeping in a
 * log): {@code [######------------------] 12/1000 erase esd 0.1234 attn 45.67 | 0:12 elapsed, ETA 1:40}. The clock
 * and the ETA cover the steps run by this process (a resumed run estimates from its own steps).
 */
public final class TrainingProgress implements Trainer.Listener {
    private static final int WIDTH = 24;

    private final PrintStream out;
    private final LongSupplier nanos;
    private long start;
    private int first;

    public TrainingProgress(PrintStream out, LongSupplier nanos) {
        this.out = out;
        this.nanos = nanos;
    }

    @Override
    public void onStart(int firstStep, int steps) {
        first = firstStep;
        start = nanos.getAsLong();
        if (firstStep > 0) {
            out.println("resuming at step " + firstStep + "/" + steps);
        }
    }

    @Override
    public void onStep(StepRecord r, int steps) {
        out.println(line(r, steps, (nanos.getAsLong() - start) / 1e9));
        out.flush();
    }

    String line(StepRecord r, int steps, double elapsed) {
        int done = r.step() + 1;
        int filled = (int) ((long) WIDTH * done / steps);
        double eta = elapsed / (done - first) * (steps - done);
        StringBuilder sb = new StringBuilder();
        sb.append('[').append("#".repeat(filled)).append("-".repeat(WIDTH - filled)).append("] ").append(done)
                .append('/').append(steps).append(r.kind() == StepRecord.Kind.ERASE ? " erase   " : " preserve");
        loss(sb, "esd", r.esd());
        loss(sb, "attn", r.attn());
        loss(sb, "lora", r.lora());
        loss(sb, "rsc", r.rsc());
        return sb.append(" | ").append(clock(elapsed)).append(" elapsed, ETA ").append(clock(eta)).toString();
    }

    private static void loss(StringBuilder sb, String name, Double v) {
        if (v != null) {
            sb.append(' ').append(name).append(' ').append(String.format(Locale.ROOT, "%.4g", v));
        }
    }

    /** m:ss, or h:mm:ss from an hour on. */
    static String clock(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
