package dev.fluxerase.safetensors;

import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsWriterTest {
    @TempDir
    Path dir;

    private List<String> files() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void failedWriteLeavesNoTempAndKeepsTheOldFile() throws IOException {
        Path target = dir.resolve("lora.safetensors");
        SafetensorsWriter.write(target, Map.of("old", Tensor.of(new float[]{42}, 1)), Map.of());
        byte[] before = Files.readAllBytes(target);

        // the second tensor's memory is freed: the write fails after the header and the first tensor are on disk
        Arena arena = Arena.ofConfined();
        MemorySegment freed = arena.allocate(16);
        arena.close();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("fine", Tensor.of(new float[]{1, 2, 3}, 3));
        tensors.put("freed", Tensor.wrap(DType.F32, freed, 4));
        SafetensorsException e = assertThrows(SafetensorsException.class,
                () -> SafetensorsWriter.write(target, tensors, Map.of()));
        assertTrue(e.getMessage().startsWith(target + ": cannot write"), e.getMessage());

        assertEquals(List.of("lora.safetensors"), files());
        assertArrayEquals(before, Files.readAllBytes(target));
    }

    @Test
    void overwritesAnExistingFileAtomically() throws IOException {
        Path target = dir.resolve("x.safetensors");
        SafetensorsWriter.write(target, Map.of("a", Tensor.of(new float[]{1}, 1)), Map.of());
        SafetensorsWriter.write(target, Map.of("b", Tensor.of(new float[]{2, 3}, 2)), Map.of("k", "v"));
        assertEquals(List.of("x.safetensors"), files());
        try (SafetensorsFile s = SafetensorsFile.open(target)) {
            assertEquals(List.of("b"), List.copyOf(s.names()));
            assertEquals(Map.of("k", "v"), s.metadata());
        }
    }

    @Test
    void missingFolderIsAOneLineError() throws IOException {
        Path target = dir.resolve("no/such/folder/x.safetensors");
        SafetensorsException e = assertThrows(SafetensorsException.class,
                () -> SafetensorsWriter.write(target, Map.of("a", Tensor.of(new float[]{1}, 1)), Map.of()));
        assertEquals(target + ": cannot write: folder " + target.getParent() + " does not exist", e.getMessage());
        assertTrue(files().isEmpty());
    }

    @Test
    void reservedNameIsRefusedBeforeAnythingIsWritten() throws IOException {
        Path target = dir.resolve("r.safetensors");
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsWriter.write(target,
                Map.of("__metadata__", Tensor.of(new float[]{1}, 1)), Map.of()));
        assertEquals(target + ": tensor '__metadata__': reserved name, expected any other name, got __metadata__",
                e.getMessage());
        assertTrue(files().isEmpty());
    }

    @Test
    void emptyCheckpointIsValid() {
        Path target = dir.resolve("empty.safetensors");
        SafetensorsWriter.write(target, Map.of(), Map.of());
        try (SafetensorsFile s = SafetensorsFile.open(target)) {
            assertTrue(s.names().isEmpty());
            assertTrue(s.metadata().isEmpty());
        }
    }
}
