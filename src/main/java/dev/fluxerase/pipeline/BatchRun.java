package dev.fluxerase.pipeline;

import dev.fluxerase.image.Png;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A batch of images to generate into a folder that may already hold some of them: which rows are still to do, and
 * the sampling of those, with {@code index.csv} kept current. {@code generate --batch} and {@code evaluate} both make
 * their images this way, so both resume an interrupted run and neither overwrites an image made from something else.
 * The caller holds the folder's {@link FolderLock}.
 */
public final class BatchRun {
    private final Path dir;
    private final List<PromptBatch.Item> items;
    private final String described;
    private final Map<String, PromptBatch.Indexed> index;
    private final List<Integer> pending;

    private BatchRun(Path dir, List<PromptBatch.Item> items, String described, Map<String, PromptBatch.Indexed> index,
                     List<Integer> pending) {
        this.dir = dir;
        this.items = items;
        this.described = described;
        this.index = index;
        this.pending = pending;
    }

    /**
     * Reads {@code dir}'s index and finds the rows it does not hold yet. A row is done when its PNG exists and
     * index.csv says it was made from the same prompt, seed and settings ({@code described}); a PNG that index.csv ties
     * to another image stops the batch before any work, as overwriting it would lose that image. The message names the
     * row by {@code origin} ("line 3 of the batch") and ends with {@code remedy}.
     */
    public static BatchRun plan(Path dir, List<PromptBatch.Item> items, String described,
                                Function<PromptBatch.Item, String> origin, String remedy) {
        Map<String, PromptBatch.Indexed> index = PromptBatch.readIndex(dir);
        List<Integer> pending = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            PromptBatch.Item it = items.get(i);
            PromptBatch.Indexed row = index.get(it.file());
            boolean exists = Files.isRegularFile(dir.resolve(it.file()));
            if (exists && row != null && !row.makes(it, described)) {
                throw new PipelineException(dir.resolve(it.file()) + " (" + origin.apply(it) + ") holds another image: "
                        + "index.csv made it from prompt \"" + row.prompt() + "\", seed " + row.seed() + ", "
                        + row.settings() + "; " + remedy);
            }
            if (!exists || row == null) {
                pending.add(i);
            }
        }
        return new BatchRun(dir, items, described, index, pending);
    }

    /** Rows (indices into the items) still to generate. */
    public List<Integer> pending() {
        return pending;
    }

    /** Rows whose image the folder held before this run. */
    public int skipped() {
        return items.size() - pending.size();
    }

    /**
     * Samples the pending rows, consecutive ones of one prompt together (up to {@code together}), writes each PNG and
     * rewrites index.csv after each sampling, so an interruption loses at most one group. Progress lines start with
     * {@code label} and then {@code [i/N] name}. Returns how many images were written.
     */
    public int run(Generator gen, Generator.Settings settings, int together, String label) {
        int made = 0;
        for (int p = 0; p < pending.size(); ) {
            PromptBatch.Item first = items.get(pending.get(p));
            int end = p + 1;
            while (end < pending.size() && end - p < together
                    && items.get(pending.get(end)).prompt().equals(first.prompt())) {
                end++;
            }
            List<PromptBatch.Item> group = pending.subList(p, end).stream().map(items::get).toList();
            String line = label + "[" + (pending.get(p) + 1) + "/" + items.size() + "] " + first.name()
                    + (group.size() == 1 ? "" : ".." + group.getLast().name() + " (" + group.size() + " images)");
            long[] seeds = group.stream().mapToLong(PromptBatch.Item::seed).toArray();
            List<Generator.Result> results = gen.generate(first.prompt(), settings, seeds, ProgressBar.onStderr(line));
            for (int k = 0; k < group.size(); k++) {
                PromptBatch.Item it = group.get(k);
                Png.write(dir.resolve(it.file()), results.get(k).image());
                index.put(it.file(), new PromptBatch.Indexed(it.name(), it.prompt(), it.seed(), it.file(), described));
            }
            PromptBatch.writeIndex(dir, index.values());
            made += group.size();
            p = end;
        }
        return made;
    }
}
