package dev.fluxerase.eval;

import dev.fluxerase.image.RgbImage;
import dev.fluxerase.pipeline.HfCache;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.text.ClipModel;
import dev.fluxerase.text.ClipTextModel;
import dev.fluxerase.text.ClipTokenizer;
import dev.fluxerase.text.ClipVisionModel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * CLIP score as torchmetrics 1.9 defines it ({@code CLIPScore}, {@code clip_score}): per (image, prompt) pair
 * {@code 100 · cos(E_I, E_C)} of the projected CLIP embeddings, not clamped; the metric is {@code max(mean, 0)} over
 * every pair given to {@link #update}, the clamp after the mean. Prompts are tokenized untruncated and then cut to
 * the text tower's 77 positions, as torchmetrics slices them: a prompt over 75 tokens loses its EOS, pooled at BOS.
 */
public final class ClipScore implements AutoCloseable {
    /** torchmetrics' factor on the cosine (not the model's logit scale). */
    private static final double SCALE = 100;

    /** One batch of pairs: the model inputs, both towers' outputs and embeddings, and the per-pair results. */
    public record Pairs(Tensor pixelValues, int[][] inputIds, ClipModel.Embeddings<ClipVisionModel.Output> images,
                        ClipModel.Embeddings<ClipTextModel.Output> texts, double[] cosine, double[] scores) {
    }

    private final ClipModel model;
    private final ClipTokenizer tokenizer;
    private final ClipImageProcessor processor;
    private double sum;
    private long count;

    public ClipScore(ClipModel model, ClipTokenizer tokenizer, ClipImageProcessor processor) {
        if (processor.config().cropWidth() != model.imageSize() || processor.config().cropHeight() != model.imageSize()
                || !processor.config().doCenterCrop()) {
            throw new IllegalArgumentException("CLIP score: the processor's " + processor.config().cropWidth() + "×"
                    + processor.config().cropHeight() + " crop" + (processor.config().doCenterCrop() ? "" : " (off)")
                    + " does not give the model's " + model.imageSize() + "×" + model.imageSize() + " input");
        }
        this.model = model;
        this.tokenizer = tokenizer;
        this.processor = processor;
    }

    /** Opens {@code model} with the Hugging Face cache of this process's environment. */
    public static ClipScore open(String model, Backend backend) {
        return open(model, HfCache.cacheDir(System.getenv(), Path.of(System.getProperty("user.home"))), backend);
    }

    /**
     * Opens a transformers CLIPModel folder, a repo's hub cache folder, or a repo id (such as
     * {@code openai/clip-vit-large-patch14}) looked up in {@code hubCache}; nothing is downloaded. The folder holds
     * config.json, the weights, preprocessor_config.json, vocab.json and merges.txt.
     */
    public static ClipScore open(String model, Path hubCache, Backend backend) {
        Path folder = locate(model, hubCache);
        for (String f : List.of("config.json", "preprocessor_config.json")) {
            if (!Files.isRegularFile(folder.resolve(f))) {
                throw new IllegalArgumentException("CLIP model " + model + ": no " + f + " in " + folder);
            }
        }
        ClipImageProcessor processor = ClipImageProcessor.read(folder.resolve("preprocessor_config.json"));
        ClipTokenizer tokenizer = ClipTokenizer.load(folder);
        ClipModel clip = ClipModel.load(folder, backend);
        try {
            return new ClipScore(clip, tokenizer, processor);
        } catch (RuntimeException e) {
            clip.close();
            throw e;
        }
    }

    private static Path locate(String model, Path hubCache) {
        Path asPath = Path.of(model);
        if (Files.isDirectory(asPath)) {
            return HfCache.isRepoDir(asPath) ? HfCache.snapshot(asPath) : asPath;
        }
        if (Files.exists(asPath) || !HfCache.isRepoId(model)) {
            throw new IllegalArgumentException("CLIP model " + model + ": not a folder" + (Files.exists(asPath) ? ""
                    : " and not a Hugging Face repo id") + "; pass a transformers CLIPModel folder or a repo id such as"
                    + " openai/clip-vit-large-patch14");
        }
        Path repo = HfCache.repoDir(hubCache, model);
        if (!HfCache.isRepoDir(repo)) {
            throw new IllegalArgumentException("CLIP model " + model + ": not a folder, and not in the Hugging Face"
                    + " cache (no " + repo.resolve("snapshots") + "); download it with `huggingface-cli download " + model
                    + "` or pass a folder");
        }
        return HfCache.snapshot(repo);
    }

    public ClipModel model() {
        return model;
    }

    public ClipImageProcessor processor() {
        return processor;
    }

    /**
     * The ids torchmetrics feeds the text tower: {@code [BOS] + content + [EOS]}, right-padded with EOS, then the first
     * 77. (It pads to the batch's longest prompt, not to 77; with the causal mask the pooled row is the same.)
     */
    public int[] inputIds(String prompt) {
        int[] content = tokenizer.contentIds(prompt);
        int[] ids = new int[ClipTokenizer.CONTEXT_LENGTH];
        Arrays.fill(ids, tokenizer.eosId());
        ids[0] = tokenizer.bosId();
        System.arraycopy(content, 0, ids, 1, Math.min(content.length, ids.length - 1));
        return ids;
    }

    /** The processor's pixel values of a batch and the image tower's outputs and embeddings for them. */
    public record Images(Tensor pixelValues, ClipModel.Embeddings<ClipVisionModel.Output> embeddings) {
    }

    /** Preprocesses and encodes images: the half of {@link #score} that does not depend on the prompts. */
    public Images encode(List<RgbImage> images) {
        Tensor pixels = processor.pixelValues(images);
        return new Images(pixels, model.encodeImages(pixels));
    }

    /** Scores image k against prompt k, without adding to the running mean. */
    public Pairs score(List<RgbImage> images, List<String> prompts) {
        requirePairs(images.size(), prompts.size());
        return score(encode(images), prompts);
    }

    /** {@link #score(List, List)} of images already {@link #encode}d, so that FID can use the same forward. */
    public Pairs score(Images images, List<String> prompts) {
        requirePairs((int) images.pixelValues().dim(0), prompts.size());
        int[][] ids = prompts.stream().map(this::inputIds).toArray(int[][]::new);
        ClipModel.Embeddings<ClipTextModel.Output> txt = model.encodeTexts(ids);
        float[] ei = Floats.toF32(images.embeddings().embeds());
        float[] et = Floats.toF32(txt.embeds());
        int dim = (int) images.embeddings().embeds().cols();
        double[] cosine = new double[ids.length];
        double[] scores = new double[ids.length];
        for (int k = 0; k < ids.length; k++) {
            cosine[k] = cosine(ei, k * dim, et, k * dim, dim);
            scores[k] = SCALE * cosine[k];
        }
        return new Pairs(images.pixelValues(), ids, images.embeddings(), txt, cosine, scores);
    }

    private static void requirePairs(int images, int prompts) {
        if (images != prompts || images == 0) {
            throw new IllegalArgumentException("CLIP score: " + images + " images and " + prompts + " prompts; give "
                    + "one prompt per image, at least one pair");
        }
    }

    /** Scores the pairs and adds them to the running mean (torchmetrics' {@code update}). */
    public Pairs update(List<RgbImage> images, List<String> prompts) {
        Pairs p = score(images, prompts);
        for (double s : p.scores()) {
            sum += s;
        }
        count += p.scores().length;
        return p;
    }

    /** max(mean of every score so far, 0) (torchmetrics' {@code compute}); NaN before any pair. */
    public double compute() {
        return aggregate(sum, count);
    }

    /** torchmetrics' CLIPScore of {@code count} pairs whose scores add up to {@code sum}: max(mean, 0); NaN for none. */
    public static double aggregate(double sum, long count) {
        return count == 0 ? Double.NaN : Math.max(sum / count, 0);
    }

    /** ⟨a/‖a‖, b/‖b‖⟩ of the dim values at {@code aFrom} and {@code bFrom}, in double. */
    static double cosine(float[] a, int aFrom, float[] b, int bFrom, int dim) {
        double ab = 0;
        double aa = 0;
        double bb = 0;
        for (int i = 0; i < dim; i++) {
            double x = a[aFrom + i];
            double y = b[bFrom + i];
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        return ab / (Math.sqrt(aa) * Math.sqrt(bb));
    }

    @Override
    public void close() {
        model.close();
    }
}
