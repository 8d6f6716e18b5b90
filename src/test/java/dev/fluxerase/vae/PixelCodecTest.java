package dev.fluxerase.vae;

import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.RandomData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The weightless pixel-unshuffle codec: channel order, exact inverse, scaling, its config and one-line errors. */
class PixelCodecTest {
    static final PixelCodec TOY = new PixelCodec(2, 3, new LatentScaling(1.0, 0.0));

    @TempDir
    Path tmp;

    /** A 4×4 RGB image whose value at (c, y, x) is 100c + 10y + x. */
    private static Tensor handMade() {
        float[] v = new float[3 * 4 * 4];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 4; y++) {
                for (int x = 0; x < 4; x++) {
                    v[(c * 4 + y) * 4 + x] = 100 * c + 10 * y + x;
                }
            }
        }
        return Tensor.of(v, 1, 3, 4, 4);
    }

    /** torch.nn.functional.pixel_unshuffle(x, 2): channel c·4 + dy·2 + dx holds pixel (2Y + dy, 2X + dx) of channel c. */
    @Test
    void channelOrderIsTorchPixelUnshuffle() {
        Tensor z = TOY.encode(handMade());
        assertArrayEquals(new long[]{1, 12, 2, 2}, z.shape());
        // written out by hand from the definition, not from the formula under test
        float[][] expected = {
                {0, 2, 20, 22}, {1, 3, 21, 23}, {10, 12, 30, 32}, {11, 13, 31, 33},
                {100, 102, 120, 122}, {101, 103, 121, 123}, {110, 112, 130, 132}, {111, 113, 131, 133},
                {200, 202, 220, 222}, {201, 203, 221, 223}, {210, 212, 230, 232}, {211, 213, 231, 233},
        };
        for (int ch = 0; ch < 12; ch++) {
            for (int p = 0; p < 4; p++) {
                assertEquals(expected[ch][p], z.get(ch * 4 + p), "latent channel " + ch + " pixel " + p);
            }
        }
        assertEquals(12, TOY.latentChannels());
        assertEquals(2, TOY.downsampleFactor());
        assertEquals(PixelCodec.CLASS_NAME, TOY.kind());
    }

    @Test
    void decodeIsTheExactInverseOfEncode() {
        float[] v = RandomData.gaussian(new Random(3), 2 * 3 * 8 * 12, 0.6);
        Tensor image = Tensor.of(v, 2, 3, 8, 12);
        Tensor z = TOY.encode(image);
        assertArrayEquals(new long[]{2, 12, 4, 6}, z.shape());
        Tensor back = TOY.decode(z);
        assertArrayEquals(image.shape(), back.shape());
        for (int i = 0; i < v.length; i++) {
            assertEquals(Float.floatToRawIntBits(v[i]), Float.floatToRawIntBits(back.get(i)), "value " + i);
        }
        // and the other way: a latent decodes to an image that encodes back to it, bit for bit
        float[] lat = RandomData.gaussian(new Random(4), 1 * 12 * 3 * 5, 1.0);
        Tensor again = TOY.encode(TOY.decode(Tensor.of(lat, 1, 12, 3, 5)));
        for (int i = 0; i < lat.length; i++) {
            assertEquals(Float.floatToRawIntBits(lat[i]), Float.floatToRawIntBits(again.get(i)), "latent " + i);
        }
    }

    /** The shift and scale go on after the rearrangement: z = (unshuffle(x) − shift)·scale, in float32. */
    @Test
    void scalingIsAppliedLikeTheVaes() {
        PixelCodec scaled = new PixelCodec(2, 3, new LatentScaling(2.0, 0.5));
        Tensor plain = TOY.encode(handMade());
        Tensor z = scaled.encode(handMade());
        for (int i = 0; i < plain.numel(); i++) {
            assertEquals((plain.get(i) - 0.5f) * 2f, z.get(i));
        }
        Tensor back = scaled.decode(z);
        for (int i = 0; i < back.numel(); i++) {
            assertEquals(handMade().get(i), back.get(i));
        }
        // the moments are before the scaling, and the exact rearrangement has no spread
        LatentCodec.Moments m = scaled.moments(handMade());
        assertArrayEquals(Floats.toF32(plain), Floats.toF32(m.mean()));
        assertNull(m.logvar());
    }

    @Test
    void configIsReadAndRecognised() throws Exception {
        Path good = Files.writeString(tmp.resolve("config.json"), """
                {"_class_name": "PixelUnshuffleCodec", "patch_size": 4, "in_channels": 1, "scaling_factor": 0.5,
                 "shift_factor": -0.25, "_diffusers_version": "0.40.0"}
                """);
        assertTrue(PixelCodec.describedBy(good));
        PixelCodec c = PixelCodec.read(good);
        assertEquals(4, c.patchSize());
        assertEquals(16, c.latentChannels());
        assertEquals(new LatentScaling(0.5, -0.25), c.scaling());
        Path defaults = Files.writeString(tmp.resolve("d.json"), """
                {"_class_name": "PixelUnshuffleCodec", "patch_size": 2, "in_channels": 3}
                """);
        assertEquals(new LatentScaling(1.0, 0.0), PixelCodec.read(defaults).scaling());
        Path kl = Files.writeString(tmp.resolve("kl.json"), "{\"_class_name\": \"AutoencoderKL\"}");
        assertFalse(PixelCodec.describedBy(kl));
        assertFalse(PixelCodec.describedBy(Files.writeString(tmp.resolve("broken.json"), "{")));
        assertFalse(PixelCodec.describedBy(tmp.resolve("absent.json")));
    }

    @Test
    void badConfigsAndInputsAreOneLineNamingFileAndKey() throws Exception {
        String[][] cases = {
                {"{\"_class_name\": \"PixelUnshuffleCodec\", \"patch_size\": \"two\", \"in_channels\": 3}",
                        ": patch_size must be a positive integer, found \"two\""},
                {"{\"_class_name\": \"PixelUnshuffleCodec\", \"patch_size\": 2}",
                        ": in_channels must be a positive integer, found nothing"},
                {"{\"_class_name\": \"PixelUnshuffleCodec\", \"patch_size\": 0, \"in_channels\": 3}",
                        ": patch_size must be a positive integer, found 0"},
                {"{\"_class_name\": \"PixelUnshuffleCodec\", \"patch_size\": 2, \"in_channels\": 3, \"scaling_factor\": 0}",
                        ": scaling_factor must be a positive number, found 0.0"},
                {"{\"_class_name\": \"PixelUnshuffleCodec\", \"patch_size\": 2, \"in_channels\": 3, \"shift_factor\": \"0\"}",
                        ": shift_factor must be a finite number, found \"0\""},
                {"{\"_class_name\": \"AutoencoderKL\"}", ": _class_name is \"AutoencoderKL\", expected PixelUnshuffleCodec"},
                {"[1, 2]", ": codec config is not a JSON object"},
        };
        for (int i = 0; i < cases.length; i++) {
            Path f = Files.writeString(tmp.resolve("c" + i + ".json"), cases[i][0]);
            VaeException e = assertThrows(VaeException.class, () -> PixelCodec.read(f), cases[i][0]);
            assertEquals(f + cases[i][1], e.getMessage());
        }
        VaeException odd = assertThrows(VaeException.class, () -> TOY.encode(Tensor.zeros(1, 3, 5, 4)));
        assertEquals("image: height 5 and width 4 must be multiples of the codec's patch size 2, found [1, 3, 5, 4]",
                odd.getMessage());
        VaeException grey = assertThrows(VaeException.class, () -> TOY.encode(Tensor.zeros(1, 1, 4, 4)));
        assertTrue(grey.getMessage().startsWith("image: expected a CPU float tensor [B, 3, H, W], found [1, 1, 4, 4]"),
                grey.getMessage());
        VaeException lat = assertThrows(VaeException.class, () -> TOY.decode(Tensor.zeros(1, 16, 2, 2)));
        assertTrue(lat.getMessage().startsWith("latents: expected a CPU float tensor [B, 12, H, W]"), lat.getMessage());
    }

    @Test
    void decodeFootprintIsTheLatentCopyAndTheImage() {
        assertEquals(new LatentCodec.Footprint(2L * 4 * 2 * 12 * 64 * 32, 2L * 12 * 64 * 32),
                TOY.decodeFootprint(2, 64, 32));
    }
}
