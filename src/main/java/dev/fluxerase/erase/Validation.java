package dev.fluxerase.erase;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.flux.FluxModel;
import dev.fluxerase.image.ImageGrid;
import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.pipeline.Generator;
import dev.fluxerase.pipeline.ModelFolder;
import dev.fluxerase.pipeline.PromptEncoder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Validation images ({@code validate_every} > 0), so that a user can watch the concept fade while the run goes on:
 * before the first step, every {@code validate_every} steps and after the last, one image per validation prompt from
 * the LoRA as trained so far, written as one grid {@code <output>/validation/step-NNNNNN.png} (one row per prompt).
 * The images come from the generate path around the trainer's own model ({@link Generator#around}, with the run's
 * {@link RunConfig#imageSettings}), every one from the noise of {@code validate_seed}, so that rows differ only by
 * their prompt and grids only by the training between them. Sampling only reads the LoRA and draws no number from the
 * training's generators (each step seeds its own, {@link RunRandom}), so a run trains the same LoRA with validation or
 * without.
 */
final class Validation {
    static final String DIR = "validation";
    static final Pattern GRID = Pattern.compile("step-(\\d+)\\.png");

    private final RunConfig config;
    private final List<String> prompts;
    private final ModelFolder folder;
    private final FluxModel model;
    private final PromptEncoder encoder;
    private final Consumer<String> progress;
    private Generator generator;

    Validation(RunConfig config, Words words, ModelFolder folder, FluxModel model, PromptEncoder encoder,
               Consumer<String> progress) {
        this.config = config;
        this.prompts = config.validateEvery() > 0 ? prompts(config, words) : List.of();
        this.folder = folder;
        this.model = model;
        this.encoder = encoder;
        this.progress = progress;
    }

    /**
     * The rows: {@code validate_prompts}, else the instance prompt (whose concept should fade), the same with the key
     * word replaced by its first synonym that differs from it (which fades too when the erasure generalises; left out
     * when there is none) and by the first irrelevant concept (the far one when they were chosen, which should not
     * fade), replaced as in the preservation images' prompts, so that the rows share the rest of the prompt.
     */
    static List<String> prompts(RunConfig c, Words words) {
        if (c.validatePrompts() != null) {
            return c.validatePrompts();
        }
        List<String> p = new ArrayList<>();
        p.add(c.instancePrompt());
        words.synonyms().stream().filter(s -> !s.equals(c.keyWord())).findFirst()
                .ifPresent(s -> p.add(PreserveImages.prompt(c, s)));
        p.add(PreserveImages.prompt(c, words.irrelevant().getFirst()));
        return List.copyOf(p);
    }

    /** Whether the LoRA after {@code step} steps gets a grid. */
    boolean due(int step) {
        return config.validateEvery() > 0 && (step % config.validateEvery() == 0 || step == config.steps());
    }

    /**
     * Before the first step of this process: a fresh run draws its step-0 grid; a resumed one draws the grid of its
     * checkpoint's step only when it is missing (validation turned on at resume), since the run that wrote the
     * checkpoint wrote that grid before it.
     */
    void start(int nextStep) {
        if (due(nextStep) && (nextStep == 0 || !Files.isRegularFile(grid(Path.of(config.output()), nextStep)))) {
            write(nextStep);
        }
    }

    /** Draws and writes the grid of the LoRA after {@code step} steps. */
    void write(int step) {
        long t0 = System.nanoTime();
        if (generator == null) {
            generator = Generator.around(folder, model, encoder);
        }
        String at = String.format(Locale.ROOT, "validation at step %d/%d", step, config.steps());
        List<List<RgbImage>> rows = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            progress.accept(String.format(Locale.ROOT, "%s [%d/%d] %s", at, i + 1, prompts.size(), prompts.get(i)));
            rows.add(List.of(generator.generate(prompts.get(i), config.imageSettings(), config.validateSeed(), null,
                    null).image()));
        }
        Path file = grid(Path.of(config.output()), step);
        try {
            Files.createDirectories(file.getParent());
        } catch (IOException e) {
            throw new EraseException(file.getParent() + ": cannot create: " + e.getMessage(), e);
        }
        Png.write(file, ImageGrid.of(rows));
        progress.accept(String.format(Locale.ROOT, "%s: wrote %s (%.1f s)", at, file, (System.nanoTime() - t0) / 1e9));
    }

    /** What run.json records of the validation: null when there is none. */
    ObjectNode toJson() {
        if (config.validateEvery() == 0) {
            return null;
        }
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("every", config.validateEvery());
        o.put("seed", config.validateSeed());
        prompts.forEach(o.putArray("prompts")::add);
        o.put("grids", DIR + "/step-NNNNNN.png: one row per prompt, the LoRA after NNNNNN steps");
        return o;
    }

    static Path grid(Path out, int step) {
        return out.resolve(DIR).resolve(String.format(Locale.ROOT, "step-%06d.png", step));
    }
}
