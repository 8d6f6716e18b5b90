package dev.fluxerase.erase;

import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.pipeline.Generator;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The data of the paper's preservation variant (METHOD §7.8, {@code preserve: irrelevant}): for each irrelevant
 * concept, the instance prompt with every occurrence of the key word replaced by that concept, and
 * {@code preserve_images} images the frozen model generates for it through the ordinary generate path (the run's
 * resolution, T5 length and sampling steps, guidance {@code guidance_train}, seeds from the run seed). They are cached
 * as PNGs in {@code <output>/preserve-images/}, so a resumed run reads them back instead of generating them again; a
 * missing one is generated again, with the same bits, as the seeds fix it. The trainer's own model draws them, one at
 * a time at the shape it trains at, so that a device holds one copy of the weights and one set of activations.
 */
final class PreserveImages {
    static final String DIR = "preserve-images";
    private static final long STREAM = 4;

    /** One preservation image: its irrelevant concept, the prompt it was generated for, its file name, its pixels. */
    record Item(String word, String prompt, String name, RgbImage pixels) {
    }

    private PreserveImages() {
    }

    /** The instance prompt with the key word replaced by {@code word} (every literal occurrence, as in validation). */
    static String prompt(RunConfig c, String word) {
        return c.instancePrompt().replace(c.keyWord(), word);
    }

    /** Seed of image i of irrelevant concept k. */
    static long seed(long runSeed, int k, int i) {
        return RunRandom.mix(runSeed, STREAM, ((long) k << 20) + i);
    }

    /** File name of image i of irrelevant concept k: the concept's letters and digits, so any word makes a name. */
    static String name(int k, String word, int i) {
        String w = word.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "_");
        return String.format(Locale.ROOT, "%d-%s-%d.png", k, w, i);
    }

    /**
     * The cached images of every irrelevant concept, generating those that the folder does not hold yet with the
     * generator that {@code frozen} opens (the generate path around the frozen model). {@code progress} hears one line
     * per generated concept.
     */
    static List<Item> prepare(RunConfig c, Supplier<Generator> frozen, List<String> words, Consumer<String> progress) {
        Path dir = Path.of(c.output()).resolve(DIR);
        List<Item> items = new ArrayList<>();
        Generator gen = null;
        try {
            Files.createDirectories(dir);
            for (int k = 0; k < words.size(); k++) {
                String word = words.get(k);
                String prompt = prompt(c, word);
                List<Integer> missing = new ArrayList<>();
                for (int i = 0; i < c.preserveImages(); i++) {
                    if (!Files.isRegularFile(dir.resolve(name(k, word, i)))) {
                        missing.add(i);
                    }
                }
                if (!missing.isEmpty()) {
                    if (gen == null) {
                        gen = frozen.get();
                    }
                    progress.accept("generating " + missing.size() + " preservation image(s) of \"" + prompt + "\"");
                    for (int i : missing) {
                        Png.write(dir.resolve(name(k, word, i)), gen.generate(prompt, c.imageSettings(),
                                seed(c.seed(), k, i), null, null).image());
                    }
                }
                for (int i = 0; i < c.preserveImages(); i++) {
                    String n = name(k, word, i);
                    RgbImage img = Png.read(dir.resolve(n));
                    if (img.width() != c.resolution() || img.height() != c.resolution()) {
                        throw new EraseException(dir.resolve(n) + ": a preservation image of this run must be "
                                + c.resolution() + "x" + c.resolution() + ", got " + img.width() + "x" + img.height()
                                + " (delete it to generate it again)");
                    }
                    items.add(new Item(word, prompt, n, img));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot create: " + e.getMessage(), e);
        } finally {
            if (gen != null) {
                gen.close();
            }
        }
        return items;
    }
}
