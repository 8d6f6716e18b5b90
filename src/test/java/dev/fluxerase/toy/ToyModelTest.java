package dev.fluxerase.toy;

import dev.fluxerase.cli.CliRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The committed toy folder is what the code writes, and the ordinary commands accept it. */
class ToyModelTest {
    static final Path TOY = Path.of("weights", "toy");

    @Test
    void committedFrameIsWhatWriteFrameWrites(@TempDir Path dir) throws IOException {
        ToyModel.writeFrame(dir);
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(Files::isRegularFile).map(dir::relativize).sorted().toList();
        }
        assertEquals(15, files.size(), files.toString());
        for (Path f : files) {
            assertArrayEquals(Files.readAllBytes(dir.resolve(f)), Files.readAllBytes(TOY.resolve(f)),
                    f + " differs from the committed weights/toy (rerun toy-train, see weights/toy/README.md)");
        }
    }

    @Test
    void doctorAcceptsTheToyFolder() {
        CliRun r = CliRun.of("doctor", "--model", TOY.toString());
        assertEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.out().contains("PixelUnshuffleCodec") && r.out().contains("2 double + 2 single"), r.out());
        assertTrue(r.out().contains("resolution 32, t5_length 16, steps 20"), r.out());
    }

    /** adaLN-Zero in the committed weights would mean an untrained model: the modulations must have moved. */
    @Test
    void committedTransformerIsTrained() {
        try (var src = dev.fluxerase.safetensors.Safetensors.open(TOY.resolve("transformer")
                .resolve(ToyModel.WEIGHTS_FILE))) {
            var t = src.tensor("transformer_blocks.0.norm1.linear.weight");
            float[] v = dev.fluxerase.tensor.Floats.toF32(t);
            double sq = 0;
            for (float x : v) {
                sq += x * x;
            }
            assertTrue(Math.sqrt(sq / v.length) > 1e-3, "rms " + Math.sqrt(sq / v.length));
            assertTrue(src.metadata().get("settings").contains("\"steps\""), src.metadata().toString());
        }
    }
}
