package dev.fluxerase.eval;

import dev.fluxerase.image.Png;
import dev.fluxerase.image.RgbImage;
import dev.fluxerase.safetensors.SafetensorsFile;
import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static dev.fluxerase.eval.ClipGoldens.image;
import static dev.fluxerase.eval.ClipGoldens.resource;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** CLIPImageProcessor (PIL backend) against the eval-tiny goldens: bit for bit at 32 and at 224 px. */
class ClipImageProcessorTest {
    /** openai/clip-vit-large-patch14's mean and std, as the golden README gives them. */
    private static final double[] MEAN = {0.48145466, 0.4578275, 0.40821073};
    private static final double[] STD = {0.26862954, 0.26130258, 0.27577711};

    @Test
    void pixelValuesAt32MatchTheGoldenBitForBit() {
        ClipImageProcessor processor = ClipImageProcessor.read(resource("clip/preprocessor_config.json"));
        try (SafetensorsFile golden = SafetensorsFile.open(resource("images/pixel_values_32.safetensors"))) {
            for (int k = 0; k < 4; k++) {
                Tensor ours = processor.pixelValues(List.of(image(k)));
                Tensor ref = golden.tensor("img" + k + ".pixel_values_32");
                assertArrayEquals(ref.shape(), ours.shape(), "img" + k + " shape");
                assertArrayEquals(Floats.toF32(ref), Floats.toF32(ours), 0f, "img" + k + " pixel values at 32");
            }
        }
    }

    @Test
    void resizedCropAndPixelValuesAt224MatchTheGoldenBitForBit() {
        // the golden F32 values are stored as their uint8 crops (exactly recoverable, tools/EvalClipGoldens.java checks
        // it); the expected floats are rebuilt here with the README's arithmetic, independently of the processor
        ClipImageProcessor processor = ClipImageProcessor.read(resource("clip/preprocessor_224.json"));
        for (int k = 0; k < 4; k++) {
            RgbImage crop = Png.read(resource("images/img" + k + "_crop224.png"));
            assertEquals(crop, processor.resizeAndCrop(image(k)), "img" + k + " resized and cropped to 224");
            Tensor ours = processor.pixelValues(List.of(image(k)));
            assertArrayEquals(new long[]{1, 3, 224, 224}, ours.shape());
            assertArrayEquals(readmeNormalize(crop), Floats.toF32(ours), 0f, "img" + k + " pixel values at 224");
        }
    }

    /** README §2 steps 4–5: float32(u8 · (1/255 as a double)), then (x − float32(mean)) / float32(std) in float32. */
    private static float[] readmeNormalize(RgbImage img) {
        int plane = img.width() * img.height();
        float[] out = new float[3 * plane];
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < plane; p++) {
                float x = (float) ((img.rgb()[p * 3 + c] & 0xff) * (1 / 255.0));
                out[c * plane + p] = (x - (float) MEAN[c]) / (float) STD[c];
            }
        }
        return out;
    }

    @Test
    void rescaleEqualsTheFloat32DivisionForEveryByte() {
        for (int u = 0; u < 256; u++) {
            assertEquals(u / 255f, (float) (u * (1 / 255.0)), 0f, "byte " + u);
        }
    }

    @Test
    void geometryTruncatesTheLongSideAndFloorsTheCropOffset() {
        assertArrayEquals(new int[]{53, 32}, ClipImageProcessor.shortestEdgeSize(80, 48, 32));
        assertArrayEquals(new int[]{224, 550}, ClipImageProcessor.shortestEdgeSize(37, 91, 224));
        assertArrayEquals(new int[]{373, 224}, ClipImageProcessor.shortestEdgeSize(80, 48, 224));
        byte[] rgb = new byte[5 * 4 * 3];
        for (int i = 0; i < 20; i++) {
            rgb[i * 3] = (byte) i;
        }
        RgbImage crop = ClipImageProcessor.centerCrop(new RgbImage(5, 4, rgb), 2, 2);
        // left = (5 − 2) // 2 = 1, top = (4 − 2) // 2 = 1
        assertEquals(6, crop.get(0, 0, 0));
        assertEquals(12, crop.get(1, 1, 0));
    }

    @Test
    void resizeToTheSameSizeIsTheIdentityAndAConstantImageStaysConstant() {
        Random rnd = new Random(7);
        byte[] rgb = new byte[9 * 7 * 3];
        rnd.nextBytes(rgb);
        RgbImage img = new RgbImage(9, 7, rgb);
        assertEquals(img, ClipImageProcessor.resizeBicubic(img, 9, 7));
        byte[] flat = new byte[9 * 7 * 3];
        java.util.Arrays.fill(flat, (byte) 200);
        RgbImage grey = ClipImageProcessor.resizeBicubic(new RgbImage(9, 7, flat), 31, 3);
        for (byte b : grey.rgb()) {
            assertEquals(200, b & 0xff);
        }
    }

    @Test
    void configErrorsAreOneLineNamingTheFile(@TempDir Path dir) throws IOException {
        Path bilinear = dir.resolve("preprocessor_config.json");
        Files.writeString(bilinear, "{\"resample\": 2, \"size\": 224, \"crop_size\": 224}");
        var e = assertThrows(IllegalArgumentException.class, () -> ClipImageProcessor.read(bilinear));
        assertTrue(e.getMessage().startsWith(bilinear + ": config \"resample\" 2 is not supported"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count());

        Path dict = dir.resolve("dict.json");
        Files.writeString(dict, "{\"size\": {\"shortest_edge\": 32}, \"crop_size\": {\"height\": 32, \"width\": 32}}");
        ClipImageProcessor fromDict = ClipImageProcessor.read(dict);
        ClipImageProcessor fromInts = ClipImageProcessor.read(resource("clip/preprocessor_config.json"));
        assertArrayEquals(Floats.toF32(fromInts.pixelValues(List.of(image(1)))),
                Floats.toF32(fromDict.pixelValues(List.of(image(1)))), 0f);

        ClipImageProcessor noResize = new ClipImageProcessor(new ClipImageProcessor.Config(false, 0, 0, 0, true, 224,
                224, true, 1 / 255.0, true, MEAN, STD));
        var small = assertThrows(IllegalArgumentException.class, () -> noResize.pixelValues(List.of(image(0))));
        assertTrue(small.getMessage().contains("64×64 image is smaller than the 224×224 crop"), small.getMessage());
    }
}
