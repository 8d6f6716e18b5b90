package dev.fluxerase.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.sampling.FluxSchedule;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/** {@code flux-erase schedule}: prints FLUX's sampling sigmas as a JSON array. */
@Command(name = "schedule", mixinStandardHelpOptions = true,
        description = {"Print FLUX's sampling sigmas (BFL get_schedule) as a JSON array of steps+1 numbers, "
                + "from 1 down to 0.",
                "Give the image as --image-seq-len (packed tokens) or as --width and --height in pixels "
                        + "(tokens = (height/16)*(width/16)); with --no-shift the size may be left out."})
public final class ScheduleCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--steps", required = true, paramLabel = "S", description = "Number of sampling steps.")
    int steps;

    @Option(names = "--image-seq-len", paramLabel = "N", description = "Packed image token count (4096 at 1024x1024).")
    Long imageSeqLen;

    @Option(names = "--width", paramLabel = "W", description = "Image width in pixels, a multiple of 16.")
    Integer width;

    @Option(names = "--height", paramLabel = "H", description = "Image height in pixels, a multiple of 16.")
    Integer height;

    @Option(names = "--no-shift", description = "Plain linspace(1, 0, S+1), as BFL samples FLUX.1-schnell.")
    boolean noShift;

    @Option(names = "--float32", description = "The float32 values BFL's torch code steps with (bit-exact on "
            + "x86/AVX2), printed as doubles; default: the double-precision schedule.")
    boolean float32;

    @Override
    public Integer call() throws Exception {
        // Without the shift the size does not matter, so it may be left out.
        boolean sizeGiven = imageSeqLen != null || width != null || height != null;
        long n = noShift && !sizeGiven ? FluxSchedule.BASE_IMAGE_SEQ_LEN : imageSeqLen();
        Object sigmas;
        if (float32) {
            float[] f = FluxSchedule.sigmasFloat32(steps, n, !noShift);
            double[] d = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                d[i] = f[i];
            }
            sigmas = d;
        } else {
            sigmas = FluxSchedule.sigmas(steps, n, !noShift);
        }
        spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(sigmas));
        spec.commandLine().getOut().flush();
        return 0;
    }

    private long imageSeqLen() {
        boolean bySize = width != null || height != null;
        if (imageSeqLen != null && bySize) {
            throw new IllegalArgumentException("give either --image-seq-len or --width/--height, not both");
        }
        if (imageSeqLen != null) {
            if (imageSeqLen < 1) {
                throw new IllegalArgumentException("--image-seq-len must be at least 1, got " + imageSeqLen);
            }
            return imageSeqLen;
        }
        if (width == null || height == null) {
            throw new IllegalArgumentException("give --image-seq-len, or both --width and --height");
        }
        return FluxSchedule.imageSeqLen(width, height);
    }
}
