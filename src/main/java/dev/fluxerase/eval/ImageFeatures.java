package dev.fluxerase.eval;

import dev.fluxerase.image.RgbImage;

import java.util.List;

/** What FID compares: a feature extractor's row of {@link #dims()} values per image (CLIP's or an ONNX model's). */
public interface ImageFeatures {
    /** The width of every row. */
    int dims();

    /** What the features are, for summary.json ("CLIP image_embeds, 768-d"). */
    String describe();

    /** One row per image, in order. */
    List<float[]> rows(List<RgbImage> images);
}
