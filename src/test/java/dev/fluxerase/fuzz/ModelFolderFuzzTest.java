package dev.fluxerase.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.fluxerase.pipeline.FlowMatchScheduler;
import dev.fluxerase.pipeline.ModelFolder;
import dev.fluxerase.pipeline.PipelineException;
import dev.fluxerase.vae.AutoencoderConfig;
import dev.fluxerase.vae.PixelCodec;
import dev.fluxerase.vae.VaeException;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Any bytes as the small JSON files of a model folder (model_index.json with its flux_erase_defaults, vae/config.json,
 * scheduler/scheduler_config.json): read, or refused with one line that starts with the file's path.
 */
class ModelFolderFuzzTest {
    @FuzzTest(maxDuration = "20s")
    void modelIndex(byte[] data) throws Exception {
        Path dir = Files.createTempDirectory("flux-erase-fuzz-");
        Path index = dir.resolve("model_index.json");
        try {
            Files.write(index, data);
            try {
                ModelFolder.resolve(dir.toString(), null, null, dir).defaults();
            } catch (PipelineException e) {
                oneLineAbout(index, e);
            }
        } finally {
            Files.deleteIfExists(index);
            Files.delete(dir);
        }
    }

    /** As ModelFolder.openCodec tells the two kinds of vae/config.json apart. */
    @FuzzTest(maxDuration = "20s")
    void vaeConfig(byte[] data) throws Exception {
        FuzzFiles.through(data, "-config.json", f -> {
            try {
                if (PixelCodec.describedBy(f)) {
                    PixelCodec.read(f);
                } else {
                    AutoencoderConfig.read(f);
                }
            } catch (VaeException e) {
                oneLineAbout(f, e);
            }
        });
    }

    @FuzzTest(maxDuration = "20s")
    void schedulerConfig(byte[] data) throws Exception {
        FuzzFiles.through(data, "-scheduler_config.json", f -> {
            try {
                FlowMatchScheduler.read(f);
            } catch (PipelineException e) {
                oneLineAbout(f, e);
            }
        });
    }

    private static void oneLineAbout(Path file, RuntimeException e) {
        assertTrue(e.getMessage().startsWith(file.toString()) && !e.getMessage().contains("\n"), e.getMessage());
    }
}
