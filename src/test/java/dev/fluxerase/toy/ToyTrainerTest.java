package dev.fluxerase.toy;

import dev.fluxerase.cpu.CpuBackend;
import dev.fluxerase.tensor.Backend;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
        return new ToyTrainer.Settings(7, steps, batch, 1e-3, 2, 0, 0.9, 0.25, d.guidanceMin(), d.guidanceMax(),
                d.clipNorm(), 0.0);
    }

    /** From a checkpoint after 2 steps, and from the one toy-train writes before its first step. */
    @ParameterizedTest
    @ValueSource(ints = {2, 0})
    void resumedRunHasTheSameBits(int at) {
        Map<String, float[]> straight;
        try (Backend be = new CpuBackend(); ToyTrainer t = new ToyTrainer(settings(3, 2), folder, be, null, false)) {
            for (int i = 0; i < 3; i++) {
                t.step();
            }
            straight = t.emaValues();
        }
        Path ckpt = dir.resolve("resume-checkpoint-" + at + ".safetensors");
        String log = at == 0 ? "" : "{\"step\":" + at + "}\n";
        try (Backend be = new CpuBackend(); ToyTrainer t = new ToyTrainer(settings(at == 0 ? 3 : at, 2), folder, be, null, false)) {
            for (int i = 0; i < at; i++) {
                t.step();
            }
            t.writeCheckpoint(ckpt, log);
        }
        try (Backend be = new CpuBackend(); ToyTrainer t = new ToyTrainer(settings(3, 2), folder, be, ckpt, true)) {
            assertEquals(at, t.nextStep());
            while (t.nextStep() < 3) {
                t.step();
            }
            Map<String, float[]> resumed = t.emaValues();
            for (String n : straight.keySet()) {
                assertArrayEquals(straight.get(n), resumed.get(n), n);
            }
        }
        assertEquals(log, ToyTrainer.log(ckpt));
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
            assertEquals(0.5e-3, t.settings().lr(0), 1e-12);
            assertEquals(1e-3, t.settings().lr(1), 1e-12);
            assertEquals(1e-3, t.settings().lr(500), 1e-12);
        }
    }

    @Test
    void learningRateDecaysLinearlyOverTheLastSteps() {
        ToyTrainer.Settings s = settings(10, 2).withSchedule(10, 4);
        assertEquals(1e-3, s.lr(5), 1e-12);
        assertEquals(1e-3, s.lr(6), 1e-12);
        assertEquals(0.75e-3, s.lr(7), 1e-12);
        assertEquals(0.25e-3, s.lr(9), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> settings(10, 2).withSchedule(10, 11));
    }

    @Test
    void aResumeMayAddADecayOnlyWhereTheStepsTakenKeepTheirRate() {
        ToyTrainer.Settings constant = settings(10, 2);
        assertTrue(constant.continuedBy(constant.withSchedule(20, 8), 10));
        assertTrue(constant.continuedBy(constant.withSchedule(20, 11), 10)); // the first decayed step keeps the rate
        assertFalse(constant.continuedBy(constant.withSchedule(20, 12), 10));
        ToyTrainer.Settings decayed = constant.withSchedule(10, 4);
        assertTrue(decayed.continuedBy(decayed, 10));
        assertFalse(decayed.continuedBy(decayed.withSchedule(20, 4), 8));
        assertTrue(decayed.continuedBy(decayed.withSchedule(20, 4), 6));
        assertFalse(constant.continuedBy(new ToyTrainer.Settings(8, 10, 2, 1e-3, 2, 0, 0.9, 0.25, 1, 5, 1, 0), 0));
    }

    @Test
    void decayedRunResumedFromAConstantCheckpointEqualsTheFreshDecayedRun(@TempDir Path tmp) {
        ToyTrainer.Settings constant = settings(3, 2);
        ToyTrainer.Settings decayed = constant.withSchedule(5, 2);
        Path ck = tmp.resolve("ck.safetensors");
        try (Backend be = new CpuBackend(); ToyTrainer t = new ToyTrainer(constant, folder, be, null, false)) {
            for (int i = 0; i < 3; i++) {
                t.step();
            }
            t.writeCheckpoint(ck, "");
        }
        Map<String, float[]> resumed;
        try (Backend be = new CpuBackend(); ToyTrainer t = new ToyTrainer(decayed, folder, be, ck, true)) {
            t.step();
            t.step();
            resumed = t.emaValues();
        }
        Map<String, float[]> fresh;
        try (Backend be = new CpuBackend(); ToyTrainer t = new ToyTrainer(decayed, folder, be, null, false)) {
            for (int i = 0; i < 5; i++) {
                t.step();
            }
            fresh = t.emaValues();
        }
        for (String k : fresh.keySet()) {
            assertArrayEquals(fresh.get(k), resumed.get(k), k);
        }
        ToyTrainer.Settings late = constant.withSchedule(5, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ToyTrainer(late, folder, new CpuBackend(), ck, true));
        assertTrue(e.getMessage().contains("learning rate of the 3 steps taken"), e.getMessage());
    }
}
