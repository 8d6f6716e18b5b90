package dev.fluxerase.eval;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.json.ConfigJson;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * An image model given as an ONNX file with a JSON file of the same name beside it ({@code model.onnx},
 * {@code model.json}) that says how to feed it: {@code "preprocessing"}, an object with the keys of a transformers
 * {@code preprocessor_config.json} ({@link ClipImageProcessor}); for a classifier {@code "labels"}, one per output
 * value, and {@code "softmax"} (default true: the outputs are logits); optionally {@code "output"}, the output's name
 * (default the first). Each image is run alone, as [1, 3, H, W], so models exported with a fixed batch of one work
 * and images of different sizes need no padding.
 */
public final class OnnxImageModel implements AutoCloseable, ImageFeatures {
    private final OnnxModel model;
    private final ClipImageProcessor processor;
    private final List<String> labels;
    private final boolean softmax;
    private final int width;

    private OnnxImageModel(OnnxModel model, ClipImageProcessor processor, List<String> labels, boolean softmax,
                           int width) {
        this.model = model;
        this.processor = processor;
        this.labels = labels;
        this.softmax = softmax;
        this.width = width;
    }

    /** The JSON file that goes with {@code onnx}: its name with {@code .json} for {@code .onnx}. */
    public static Path sidecar(Path onnx) {
        String name = onnx.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return onnx.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + ".json");
    }

    /**
     * Opens a classifier ({@code classifier} true: its JSON must list the labels) or a feature extractor, checking
     * before any image is read that the model takes what the preprocessing gives and gives one label's value each;
     * every failure is one line starting with {@code option} and the file.
     */
    public static OnnxImageModel open(Path onnx, String option, boolean classifier) {
        Path json = sidecar(onnx);
        String where = option + " " + onnx;
        if (!Files.isRegularFile(json)) {
            throw new IllegalArgumentException(where + ": no " + json.getFileName() + " beside it (the model's "
                    + "\"preprocessing\"" + (classifier ? " and \"labels\"" : "") + ", docs/evaluate.md)");
        }
        JsonNode n = ConfigJson.read(json);
        ClipImageProcessor processor;
        List<String> labels = new ArrayList<>();
        boolean softmax;
        String output;
        try {
            if (!n.path("preprocessing").isObject()) {
                throw new IllegalArgumentException("no \"preprocessing\" object (the keys of a "
                        + "preprocessor_config.json: size, crop_size, image_mean, image_std, ...)");
            }
            processor = ClipImageProcessor.of(n.get("preprocessing"));
            if (classifier) {
                JsonNode l = n.get("labels");
                if (l == null || !l.isArray() || l.isEmpty()) {
                    throw new IllegalArgumentException("no \"labels\" array (a classifier's class names, in the order "
                            + "of its outputs)");
                }
                for (JsonNode label : l) {
                    if (!label.isTextual()) {
                        throw new IllegalArgumentException("\"labels\" must be strings, got " + label);
                    }
                    labels.add(label.asText());
                }
            }
            softmax = !n.has("softmax") || ConfigJson.bool(n, "softmax");
            output = ConfigJson.optionalText(n, "output");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(option + " " + json + ": " + e.getMessage(), e);
        }
        OnnxModel m = OnnxModel.open(onnx, option, output);
        try {
            return new OnnxImageModel(m, processor, classifier ? List.copyOf(labels) : null, softmax,
                    checkedWidth(m, processor, where, json, classifier ? labels.size() : 0));
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /**
     * The values per image, from the output's declared shape [N, ...]; refuses a model whose input does not take one
     * image at the preprocessing's size, and a classifier whose outputs are not one per label.
     */
    private static int checkedWidth(OnnxModel m, ClipImageProcessor processor, String where, Path json, int labels) {
        long[] in = m.inputShape();
        ClipImageProcessor.Config c = processor.config();
        int[] hw = c.doCenterCrop() ? new int[]{c.cropHeight(), c.cropWidth()}
                : c.doResize() && c.shortestEdge() == 0 ? new int[]{c.resizeHeight(), c.resizeWidth()} : null;
        boolean sized = hw == null || ((in[2] == OnnxModel.DYNAMIC || in[2] == hw[0])
                && (in[3] == OnnxModel.DYNAMIC || in[3] == hw[1]));
        if (in[0] > 1 || !sized) {
            throw new IllegalArgumentException(where + ": input '" + m.input() + "' expects " + OnnxModel.shape(in)
                    + ", the preprocessing in " + json.getFileName() + " gives [1, 3, "
                    + (hw == null ? "H, W" : hw[0] + ", " + hw[1]) + "]");
        }
        long[] out = m.outputShape();
        long width = out.length < 2 ? -1 : 1;
        for (int i = 1; i < out.length; i++) {
            width = out[i] > 0 && width > 0 ? width * out[i] : -1;
        }
        if (width <= 0 || out[0] > 1) {
            throw new IllegalArgumentException(where + ": output '" + m.output() + "' has shape "
                    + OnnxModel.shape(out) + ", expected [N, ...] with a fixed number of values per image");
        }
        if (labels > 0 && width != labels) {
            throw new IllegalArgumentException(where + ": output '" + m.output() + "' gives " + width + " values per "
                    + "image, " + json.getFileName() + " lists " + labels + " labels");
        }
        return (int) width;
    }

    /** The class names, in output order; null for a feature extractor. */
    public List<String> labels() {
        return labels;
    }

    @Override
    public int dims() {
        return width;
    }

    @Override
    public String describe() {
        return model.file().getFileName() + " output '" + model.output() + "', " + width + "-d";
    }

    /**
     * Per image its output row: a classifier's probabilities (softmax of the logits in float32, as torch computes it,
     * unless the JSON says the outputs already are probabilities), a feature extractor's values as they come.
     */
    @Override
    public List<float[]> rows(List<RgbImage> images) {
        List<float[]> out = new ArrayList<>();
        for (RgbImage image : images) {
            RgbImage img = processor.resizeAndCrop(image);
            long[] in = model.inputShape();
            if ((in[2] != OnnxModel.DYNAMIC && in[2] != img.height())
                    || (in[3] != OnnxModel.DYNAMIC && in[3] != img.width())) {
                throw new IllegalArgumentException(model.file() + ": input '" + model.input() + "' expects "
                        + OnnxModel.shape(in) + ", a " + image.width() + "×" + image.height() + " image preprocessed "
                        + "gives [1, 3, " + img.height() + ", " + img.width() + "]");
            }
            float[] row = model.run(processor.normalize(img), new long[]{1, 3, img.height(), img.width()});
            out.add(labels != null && softmax ? softmax(row) : row);
        }
        return out;
    }

    /** exp(x − max) / Σ exp(x − max) in float32. */
    static float[] softmax(float[] logits) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        float[] out = new float[logits.length];
        float sum = 0;
        for (int i = 0; i < logits.length; i++) {
            out[i] = (float) Math.exp(logits[i] - max);
            sum += out[i];
        }
        for (int i = 0; i < out.length; i++) {
            out[i] /= sum;
        }
        return out;
    }

    @Override
    public void close() {
        model.close();
    }
}
