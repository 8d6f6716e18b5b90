import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedMethod;
import jdk.jfr.consumer.RecordingFile;

/**
 * Counts the JFR execution samples that fall in a Vector API operation's Java fallback, the scalar loop that runs when
 * C2 did not turn the operation into vector instructions, and names the project method that called it.
 *
 * <p>Usage: {@code java tools/VectorFallbacks.java RECORDING.jfr [SKIP_SECONDS [MAX_PERCENT]]}; samples from the first
 * SKIP_SECONDS of the recording (default 0) are left out, since code that C2 has not compiled yet always runs the
 * fallbacks. Exit status 1 when more than MAX_PERCENT (default 0.5) of the samples left are in a fallback: a hot loop
 * that falls back takes several per cent (the scatter stores of the GEMM packing took 10 % of a forward), while a method
 * that runs again in C1 for a moment after a deoptimization leaves a stray sample. Used by tools/vector-fallbacks.sh.
 */
public final class VectorFallbacks {
    /**
     * The per-lane helpers that only the fallbacks run, besides the lambdas ({@code lambda$intoArray$3}, ...) that the
     * operations hand to {@code VectorSupport} as their fallback. Not the methods that make the {@code VectorSupport}
     * call (convert0, fromBitsCoerced, ...): they are force-inlined and hold the intrinsic, so samples in an
     * intrinsified conversion are attributed to them as inlined frames.
     */
    private static final Set<String> FALLBACKS = Set.of("stOp", "ldOp", "ldLongOp", "stLongOp", "bOp", "uOp", "tOp",
            "vOp", "rOp", "bTest", "defaultCast", "defaultUCast", "defaultReinterpret");

    private VectorFallbacks() {
    }

    public static void main(String[] args) throws IOException {
        Path file = Path.of(args[0]);
        double skip = args.length > 1 ? Double.parseDouble(args[1]) : 0;
        double maxPercent = args.length > 2 ? Double.parseDouble(args[2]) : 0.5;
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        Instant start = events.stream().map(RecordedEvent::getStartTime).min(Instant::compareTo).orElse(Instant.EPOCH)
                .plusMillis((long) (skip * 1000));
        int samples = 0;
        int fallback = 0;
        Map<String, Integer> byCaller = new LinkedHashMap<>();
        for (RecordedEvent e : events) {
            if (!e.getEventType().getName().equals("jdk.ExecutionSample") || e.getStartTime().isBefore(start)
                    || e.getStackTrace() == null) {
                continue;
            }
            samples++;
            String where = fallbackSite(e.getStackTrace().getFrames());
            if (where != null) {
                fallback++;
                byCaller.merge(where, 1, Integer::sum);
            }
        }
        System.out.printf("%d execution samples after %.0f s, %d (%.1f %%) in Vector API fallbacks%n", samples, skip,
                fallback, samples == 0 ? 0 : 100.0 * fallback / samples);
        byCaller.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
                .forEach(en -> System.out.printf("%6d  %s%n", en.getValue(), en.getKey()));
        if (samples == 0) {
            System.out.println("no samples: nothing was measured");
            System.exit(2);
        }
        System.exit(100.0 * fallback / samples <= maxPercent ? 0 : 1);
    }

    /**
     * "fallback method <- project method:line <- two callers (frame type)" when the stack is in a fallback, else
     * null. The frame type of the project method says whether C2 had compiled it ("JIT compiled", "Inlined") or it
     * still ran in the interpreter.
     */
    private static String fallbackSite(List<RecordedFrame> frames) {
        StringBuilder site = null;
        int callers = 0;
        String type = "";
        for (RecordedFrame f : frames) {
            RecordedMethod m = f.getMethod();
            if (m == null) {
                continue;
            }
            String owner = m.getType().getName();
            if (site == null && owner.startsWith("jdk.incubator.vector.") && isFallback(m.getName())) {
                site = new StringBuilder(owner.substring("jdk.incubator.vector.".length()) + "." + m.getName());
            } else if (site != null && owner.startsWith("dev.fluxerase.")) {
                site.append(" <- ").append(owner.substring("dev.fluxerase.".length())).append('.').append(m.getName())
                        .append(':').append(f.getLineNumber());
                if (callers == 0) {
                    type = " (" + f.getType() + ")";
                }
                if (++callers == 3) {
                    break;
                }
            }
        }
        return site == null ? null : site + type;
    }

    private static boolean isFallback(String method) {
        return FALLBACKS.contains(method) || method.startsWith("lambda$");
    }
}
