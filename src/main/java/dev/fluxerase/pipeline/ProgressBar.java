package dev.fluxerase.pipeline;

import java.io.PrintStream;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Progress on stderr, of sampling steps or of other units of work (evaluate's scored images): on a terminal one line
 * redrawn in place ({@code label [#####-----] 3/28 0:12 elapsed, ETA 1:40}), otherwise (a log file, a pipe) one plain
 * line per unit ({@code label step 3/28, 0:12 elapsed, ETA 1:40}).
 */
public final class ProgressBar implements EulerSampler.Listener {
    private static final int WIDTH = 24;

    private final PrintStream out;
    private final boolean terminal;
    private final String label;
    private final String unit;
    private final LongSupplier nanos;
    private long start;

    public ProgressBar(PrintStream out, boolean terminal, String label, LongSupplier nanos) {
        this(out, terminal, label, "step", nanos);
    }

    /** {@code unit} names what is counted in the plain lines ("step", "image"). */
    public ProgressBar(PrintStream out, boolean terminal, String label, String unit, LongSupplier nanos) {
        this.out = out;
        this.terminal = terminal;
        this.label = label.isEmpty() ? "" : label + " ";
        this.unit = unit;
        this.nanos = nanos;
        this.start = nanos.getAsLong();
    }

    /** A bar of sampling steps on System.err, redrawn in place when stderr is a terminal. */
    public static ProgressBar onStderr(String label) {
        return onStderr(label, "step");
    }

    /** A bar of {@code unit}s on System.err, redrawn in place when stderr is a terminal. */
    public static ProgressBar onStderr(String label, String unit) {
        return new ProgressBar(System.err, stderrIsTerminal(), label, unit, System::nanoTime);
    }

    /**
     * Whether file descriptor 2 is a terminal, by the C library's {@code isatty}: the JDK's Console only tells about
     * stdin and stdout, and stderr alone is often redirected to a log. Where isatty cannot be called, the Console's
     * answer.
     */
    static boolean stderrIsTerminal() {
        try {
            Linker linker = Linker.nativeLinker();
            MemorySegment isatty = linker.defaultLookup().find("isatty").orElse(null);
            if (isatty != null) {
                MethodHandle h = linker.downcallHandle(isatty,
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
                return (int) h.invokeExact(2) == 1;
            }
        } catch (Throwable e) {
            // no native access (e.g. --enable-native-access denied): fall through to the Console
        }
        return System.console() != null && System.console().isTerminal();
    }

    /** Restarts the clock, so that the time and the ETA cover the steps only (not model loading or encoding). */
    @Override
    public void onStart(int steps) {
        start = nanos.getAsLong();
    }

    @Override
    public void onStep(int step, int steps, float[] velocity, float[] latents) {
        advance(step + 1, steps);
    }

    /** Shows {@code done} of {@code total} units finished. */
    public void advance(int done, int total) {
        double elapsed = (nanos.getAsLong() - start) / 1e9;
        double eta = elapsed / done * (total - done);
        String times = clock(elapsed) + " elapsed, ETA " + clock(eta);
        if (terminal) {
            int filled = (int) ((long) WIDTH * done / total);
            out.print("\r" + label + "[" + "#".repeat(filled) + "-".repeat(WIDTH - filled) + "] " + done + "/" + total
                    + " " + times + (done == total ? "\n" : ""));
        } else {
            out.println(label + unit + " " + done + "/" + total + ", " + times);
        }
        out.flush();
    }

    /** m:ss, or h:mm:ss from an hour on. */
    public static String clock(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
