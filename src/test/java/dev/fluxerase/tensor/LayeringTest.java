package dev.fluxerase.tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Everything outside the backend packages computes through {@link Backend} (issue 12 item 2): no main source file
 * outside {@code cpu/} imports or names a {@code dev.fluxerase.cpu.} class, and none outside {@code cuda/} a
 * {@code dev.fluxerase.cuda.} one, so that whatever runs on the CPU also runs on the GPU. The one exception is
 * {@code pipeline/Backends.java}, the factory behind {@code --backend}, which is the place that names the
 * implementations.
 */
class LayeringTest {
    private static final Path MAIN = Path.of("src/main/java/dev/fluxerase");
    private static final Map<String, String> PACKAGES = Map.of("cpu", "dev.fluxerase.cpu.", "cuda",
            "dev.fluxerase.cuda.");
    private static final List<Path> FACTORIES = List.of(MAIN.resolve("pipeline/Backends.java"));

    @Test
    void onlyTheFactoryNamesBackendImplementations() throws IOException {
        List<String> found = new ArrayList<>();
        try (Stream<Path> files = Files.walk(MAIN)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
                if (FACTORIES.contains(f)) {
                    continue;
                }
                String pkg = MAIN.relativize(f).getName(0).toString();
                List<String> lines = Files.readAllLines(f);
                for (Map.Entry<String, String> e : PACKAGES.entrySet()) {
                    if (pkg.equals(e.getKey())) {
                        continue;
                    }
                    for (int i = 0; i < lines.size(); i++) {
                        if (lines.get(i).contains(e.getValue())) {
                            found.add(MAIN.relativize(f) + ":" + (i + 1) + ": " + lines.get(i).strip());
                        }
                    }
                }
            }
        }
        assertEquals(List.of(), found, "backend implementation classes named outside their package and "
                + "pipeline/Backends.java; compute through tensor.Backend instead");
    }

    /** The scan sees what it is meant to: the factory names both packages, so a broken path would not pass silently. */
    @Test
    void theFactoryIsScannedAndNamesBoth() throws IOException {
        String factory = Files.readString(FACTORIES.getFirst());
        for (String prefix : PACKAGES.values()) {
            assertEquals(true, factory.contains(prefix), prefix);
        }
    }
}
