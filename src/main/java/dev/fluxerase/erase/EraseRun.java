package dev.fluxerase.erase;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.pipeline.FolderLock;
import dev.fluxerase.pipeline.ModelDefaults;
import dev.fluxerase.pipeline.ModelFolder;
import dev.fluxerase.pipeline.PromptCache;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A whole erasure run from its settings: the configuration file's keys overlaid with the command line's, or, with
 * resume, the checkpoint's configuration overlaid with both (and then checked against it), the model folder's defaults
 * filling in what none of them sets; the trainer; the outputs. The output folder is locked for the whole run
 * ({@link FolderLock}), so a second run or a --resume into it while the first is alive is refused.
 */
public final class EraseRun {
    /** What a finished run wrote. */
    public record Result(RunConfig config, int steps, Path lora, Path record) {
    }

    private EraseRun() {
    }

    /**
     * The defaults of the model folder that the settings' {@code model} names (a resumed run's configuration already
     * holds every value, so they change nothing there); {@link ModelDefaults#NONE} when the key is missing or not a
     * string, which {@link RunConfig#of} then reports.
     */
    private static ModelDefaults modelDefaults(ObjectNode settings, Path hubCache) {
        JsonNode model = settings.get("model");
        if (model == null || !model.isTextual() || model.asText().isBlank()) {
            return ModelDefaults.NONE;
        }
        return ModelFolder.resolve(model.asText(), null, null, hubCache).defaults();
    }

    /**
     * Runs (or, with {@code resume}, continues) the erasure described by {@code file} and {@code overrides}, which
     * wins where both set a key. Progress and warnings go to {@code err}.
     */
    public static Result run(ObjectNode file, ObjectNode overrides, boolean resume, Path hubCache, PromptCache cache,
                             PrintStream err) {
        ObjectNode merged = file.deepCopy();
        merged.setAll(overrides);
        Checkpoint.State state = null;
        if (resume) {
            if (!merged.hasNonNull("output")) {
                throw new EraseException("--resume needs " + RunConfig.describe("output")
                        + ": the folder of the run to continue");
            }
            state = Checkpoint.read(Path.of(merged.get("output").asText()));
            ObjectNode m = state.config().deepCopy();
            m.setAll(merged);
            merged = m;
        }
        RunConfig cfg = RunConfig.of(merged, modelDefaults(merged, hubCache));
        Path out = Path.of(cfg.output());
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new EraseException(RunConfig.describe("output") + " " + out + " is a file; the output is a folder "
                    + "(for the LoRA, run.json and the checkpoint)");
        }
        try (FolderLock lock = FolderLock.acquire(out, holder -> new EraseException(RunConfig.describe("output") + " "
                + out + " is in use by another erase run (" + holder + "); wait for it to end, or choose another "
                + "folder"))) {
            if (!resume && (Checkpoint.exists(out) || Files.exists(out.resolve(Trainer.LORA_FILE)))) {
                throw new EraseException(RunConfig.describe("output") + " " + out + " already holds a run ("
                        + (Checkpoint.exists(out) ? Checkpoint.FILE : Trainer.LORA_FILE) + "): continue it with "
                        + "--resume, or choose another folder");
            }
            return train(cfg, out, hubCache, cache, state, err);
        }
    }

    private static Result train(RunConfig cfg, Path out, Path hubCache, PromptCache cache, Checkpoint.State state,
                                PrintStream err) {
        try (Trainer t = Trainer.open(cfg, hubCache, cache, state, w -> err.println("flux-erase: warning: " + w),
                err::println)) {
            Words w = t.words();
            err.println("synonyms " + w.synonyms() + " (" + w.synonymSource() + ")");
            err.println(w.describeIrrelevant());
            t.run(new TrainingProgress(err, System::nanoTime));
            return new Result(t.config(), t.config().steps(), out.resolve(Trainer.LORA_FILE),
                    out.resolve(Trainer.RECORD_FILE));
        }
    }
}
