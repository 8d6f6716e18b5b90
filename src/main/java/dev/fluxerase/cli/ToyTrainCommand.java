package dev.fluxerase.cli;

import dev.fluxerase.io.AtomicFiles;
import dev.fluxerase.pipeline.Backends;
import dev.fluxerase.pipeline.ProgressBar;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.toy.ShapeEval;
import dev.fluxerase.toy.ToyModel;
import dev.fluxerase.toy.ToyTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * {@code flux-erase toy-train}: trains the toy world's transformer from scratch and writes the toy model folder. The
 * committed weights/toy/ is what this command produces with its defaults.
 */
@Command(name = "toy-train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Train the toy world's FLUX transformer (2 double + 2 single blocks, width 96) from scratch on the "
                        + "procedural 32x32 shapes dataset (rectified flow, full parameters, our backward and AdamW), "
                        + "and write the toy model folder (text encoders, tokenizers, pixel codec, scheduler, the EMA "
                        + "transformer in bf16) that doctor, generate, erase and demo load.",
                "Seeded and deterministic on the cpu backend: the defaults reproduce weights/toy/ bit for bit. "
                        + "A checkpoint in --work every --checkpoint-every steps; --resume continues it (also with a "
                        + "larger --steps). Every --eval-every steps the EMA model draws --eval-samples images per "
                        + "shape and the shape classifier scores them (the learning curve in the model card)."},
        footer = {"", "Example:", "  flux-erase toy-train                      # writes weights/toy (hours on 2 cores)",
                "  flux-erase toy-train --resume             # after a crash or to extend with --steps"})
public final class ToyTrainCommand implements Callable<Integer> {

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "weights/toy",
            description = "Toy model folder to write. Default: ${DEFAULT-VALUE}.")
    Path out;

    @Option(names = "--work", paramLabel = "DIR", defaultValue = "runs/toy-train",
            description = "Folder for checkpoint.safetensors and train-log.jsonl. Default: ${DEFAULT-VALUE}.")
    Path work;

    @Option(names = "--resume", description = "Continue from --work's checkpoint (same settings; --steps may grow).")
    boolean resume;

    @Option(names = "--steps", paramLabel = "N", description = "Training steps. Default: 36000.")
    Integer steps;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Seed of the data, the "
            + "initialisation and every step. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "64", description = "Images per step. "
            + "Default: ${DEFAULT-VALUE}.")
    int batch;

    @Option(names = "--lr", paramLabel = "LR", defaultValue = "1e-3", description = "AdamW learning rate after "
            + "the warm-up. Default: ${DEFAULT-VALUE}.")
    double lr;

    @Option(names = "--decay-steps", paramLabel = "N", description = "Let the learning rate fall linearly towards 0 "
            + "over the last N steps. A --resume may add or change it where the steps already taken keep their rate. "
            + "Default: a third of --steps (12000 of the default 36000).")
    Integer decay;

    @Option(names = "--checkpoint-every", paramLabel = "N", defaultValue = "250",
            description = "Checkpoint every N steps (and at the end). Default: ${DEFAULT-VALUE}.")
    int checkpointEvery;

    @Option(names = "--eval-every", paramLabel = "N", defaultValue = "1000",
            description = "Export the EMA model and score it every N steps (0: only at the end). "
                    + "Default: ${DEFAULT-VALUE}.")
    int evalEvery;

    @Option(names = "--eval-samples", paramLabel = "N", defaultValue = "16",
            description = "Images per shape in each evaluation. Default: ${DEFAULT-VALUE}.")
    int evalSamples;

    @Option(names = "--backend", paramLabel = "B", defaultValue = "cpu",
            description = "cpu (Vector API, all cores) or naive (the f64-accumulating reference). "
                    + "Default: ${DEFAULT-VALUE}.")
    String backend;

    @Override
    public Integer call() throws IOException {
        if (checkpointEvery < 1 || evalEvery < 0 || evalSamples < 1) {
            throw new IllegalArgumentException("--checkpoint-every and --eval-samples must be at least 1 and "
                    + "--eval-every at least 0, got " + checkpointEvery + ", " + evalSamples + ", " + evalEvery);
        }
        ToyTrainer.Settings d = ToyTrainer.Settings.DEFAULT;
        int n = steps != null ? steps : d.steps();
        ToyTrainer.Settings s = new ToyTrainer.Settings(seed, n, batch, lr, d.warmup(), decay != null ? decay : n / 3,
                d.emaDecay(), d.captionDropout(), d.guidanceMin(), d.guidanceMax(),
                d.clipNorm(), d.weightDecay());
        Files.createDirectories(work);
        Path checkpoint = work.resolve("checkpoint.safetensors");
        Path logFile = work.resolve("train-log.jsonl");
        if (!resume && Files.exists(checkpoint)) {
            throw new IllegalArgumentException(checkpoint + " exists: pass --resume to continue it, or another --work");
        }
        ToyModel.writeFrame(out);
        StringBuilder log = new StringBuilder(resume ? ToyTrainer.log(checkpoint) : "");
        try (Backend be = Backends.host(backend, "toy-train");
             ToyTrainer t = new ToyTrainer(s, out, be, checkpoint, resume)) {
            if (t.nextStep() > s.steps()) {
                throw new IllegalArgumentException("--steps " + s.steps() + " is below the checkpoint's " + t.nextStep()
                        + " steps in " + checkpoint + " (a run cannot go back; pass --steps " + t.nextStep()
                        + " or more)");
            }
            if (t.nextStep() > 0) {
                System.err.println("resuming at step " + t.nextStep() + "/" + s.steps());
            }
            if (!resume) {
                // a run killed before its first periodic checkpoint (step 250 by default) must still resume, from
                // where it began, rather than refuse with "nothing to resume"
                t.writeCheckpoint(checkpoint, log.toString());
            }
            long start = System.nanoTime();
            int first = t.nextStep();
            double lossSum = 0;
            int lossCount = 0;
            while (t.nextStep() < s.steps()) {
                ToyTrainer.Step r = t.step();
                lossSum += r.loss();
                lossCount++;
                int done = r.step() + 1;
                boolean last = done == s.steps();
                if (done % 10 == 0 || last) {
                    double elapsed = (System.nanoTime() - start) / 1e9;
                    double eta = elapsed / (done - first) * (s.steps() - done);
                    System.err.printf(Locale.ROOT, "%s %d/%d loss %.4f grad %.3f lr %.2e | %s elapsed, ETA %s%n",
                            bar(done, s.steps()), done, s.steps(), lossSum / lossCount, r.gradNorm(), r.lr(),
                            ProgressBar.clock(elapsed), ProgressBar.clock(eta));
                    log.append(String.format(Locale.ROOT, "{\"step\":%d,\"loss\":%.6f,\"grad_norm\":%.5f,"
                            + "\"elapsed_s\":%.1f}%n", done, lossSum / lossCount, r.gradNorm(), elapsed));
                    lossSum = 0;
                    lossCount = 0;
                }
                boolean eval = last || (evalEvery > 0 && done % evalEvery == 0);
                if (eval) {
                    exportAndScore(t, s, be, log);
                }
                if (last || done % checkpointEvery == 0 || eval) {
                    t.writeCheckpoint(checkpoint, log.toString());
                    AtomicFiles.writeText(logFile, log.toString());
                }
            }
            if (t.nextStep() == first) {
                // a resume with nothing left to train still writes the folder (e.g. --steps N at a checkpoint's N)
                exportAndScore(t, s, be, log);
                AtomicFiles.writeText(logFile, log.toString());
            }
        }
        System.out.println("toy model written to " + out + " (checkpoint and log in " + work + ")");
        return 0;
    }

    /** Writes the EMA transformer into the folder at the current step and scores it with the shape classifier. */
    private void exportAndScore(ToyTrainer t, ToyTrainer.Settings s, Backend be, StringBuilder log) {
        int done = t.nextStep();
        ToyModel.writeTransformer(out, t.emaValues()::get, new TreeMap<>(Map.of("format",
                "flux-erase toy transformer (EMA)", "settings", s.toJson().toString(), "step", Integer.toString(done))));
        ShapeEval.Rates rates = ShapeEval.shapes(out, be, evalSamples, s.seed());
        System.err.println("eval at step " + done + ": " + rates.describe());
        log.append("{\"step\":").append(done).append(",\"eval\":").append(rates.toJson()).append("}\n");
    }

    private static String bar(int done, int steps) {
        int filled = (int) (24L * done / steps);
        return "[" + "#".repeat(filled) + "-".repeat(24 - filled) + "]";
    }
}
