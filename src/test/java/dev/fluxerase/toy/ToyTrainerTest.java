package dev.fluxerase.toy;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.tensor.Backend;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ToyTrainerTest {
    @TempDir
    static Path dir;
    static Path folder;

    @BeforeAll
    static void frame() {
        folder = dir.resolve("toy");
        ToyModel.writeFrame(folder);
    }

    private static ToyTrainer.Settings settings(int steps, int batch) {
        ToyTrainer.Settings d = ToyTrainer.Settings.DEFAULT;
        return new ToyTrainer.Settings(7, steps, batch, 1e-3, 2, 0.9, 0.25, d.guidanceMin(), d.guidanceMax(),
                d.clipNorm(), 0.0);
    }

    @Test
    void resumedRunHasTheSameBits() {
        Map<String, float[]> straight;
        try (Backend be = new CpuBackend(); ToyTrainer t = new ToyTrainer(settings(3, 2), folder, be, null, false)) {
            for (int i = 0; i < 3; i++) {
                t.step();
            }
            straight = t.emaValues();
        }
        Path ckpt = dir.resolve("resume-checkpoint.safetensors");
        try (Backend be = new CpuBackend(); ToyTrainer t = new ToyTrainer(settings(2, 2), folder, be, null, false)) {
            t.step();
            t.step();
            t.writeCheckpoint(ckpt, "{\"step\":2}\n");
        }
        try (Backend be = new CpuBackend(); ToyTrainer t = new ToyTrainer(settings(3, 2), folder, be, ckpt, true)) {
            assertEquals(2, t.nextStep());
            t.step();
            Map<String, float[]> resumed = t.emaValues();
            for (String n : straight.keySet()) {
                assertArrayEquals(straight.get(n), resumed.get(n), n);
            }
        }
        assertEquals("{\"step\":2}\n", ToyTrainer.log(ckpt));
    }

    @Test
    void resumeRefusesOtherSettings() {
        Path ckpt = dir.resolve("other-checkpoint.safetensors");
        try (Backend be = new CpuBackend(); ToyTrainer t = new ToyTrainer(settings(1, 2), folder, be, null, false)) {
            t.step();
            t.writeCheckpoint(ckpt, "");
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
            try (Backend be = new CpuBackend();
                 ToyTrainer t = new ToyTrainer(settings(2, 4), folder, be, ckpt, true)) {
                t.step();
            }
        });
        assertTrue(e.getMessage().contains("resuming needs the same settings"), e.getMessage());
    }

    /** adaLN-Zero: the untrained model outputs 0, so the first loss is mean((ε − x0)²), about 1 + E[x0²]. */
    @Test
    void lossStartsAtTheZeroModelAndFalls() {
        List<Double> losses = new ArrayList<>();
        try (Backend be = new CpuBackend(); ToyTrainer t = new ToyTrainer(settings(60, 8), folder, be, null, false)) {
            for (int i = 0; i < 60; i++) {
                losses.add(t.step().loss());
            }
        }
        assertTrue(losses.getFirst() > 1.3 && losses.getFirst() < 2.3, "first loss " + losses.getFirst());
        double first = losses.subList(0, 10).stream().mapToDouble(x -> x).average().orElseThrow();
        double last = losses.subList(50, 60).stream().mapToDouble(x -> x).average().orElseThrow();
        assertTrue(last < 0.6 * first, "loss " + first + " -> " + last);
    }

    @Test
    void learningRateWarmsUpLinearly() {
        try (Backend be = new CpuBackend(); ToyTrainer t = new ToyTrainer(settings(3, 2), folder, be, null, false)) {
            assertEquals(0.5e-3, t.lr(0), 1e-12);
            assertEquals(1e-3, t.lr(1), 1e-12);
            assertEquals(1e-3, t.lr(500), 1e-12);
        }
    }
}
