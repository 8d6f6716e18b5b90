package dev.fluxerase.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CudaLibrariesTest {

    private static Path touch(Path p) throws IOException {
        Files.createDirectories(p.getParent());
        Files.writeString(p, "");
        return p;
    }

    @Test
    void searchOrderIsExplicitThenLdLibraryPathThenToolkitThenPip(@TempDir Path tmp) throws IOException {
        Path root = tmp.resolve("root");
        Path home = tmp.resolve("home");
        Path explicit = Files.createDirectories(tmp.resolve("explicit"));
        Path ld = Files.createDirectories(tmp.resolve("ld"));
        Path toolkit = Files.createDirectories(root.resolve("usr/local/cuda/lib64"));
        Path older = Files.createDirectories(root.resolve("usr/local/cuda-12.8/lib64"));
        Path newer = Files.createDirectories(root.resolve("usr/local/cuda-13.0/lib64"));
        Path venvPip = Files.createDirectories(tmp.resolve("venv/lib/python3.12/site-packages/nvidia/cu13/lib"));
        Path userPip = Files.createDirectories(home.resolve(".local/lib/python3.11/site-packages/nvidia/cublas/lib"));
        Path sysPip = Files.createDirectories(root.resolve("usr/local/lib/python3.10/dist-packages/nvidia/cublas/lib"));
        CudaLibraries libs = new CudaLibraries(Map.of("LD_LIBRARY_PATH", ld + "::" + tmp.resolve("missing"),
                "VIRTUAL_ENV", tmp.resolve("venv").toString()), explicit.toString(), home, root);
        List<Path> dirs = libs.searchDirs().stream().map(CudaLibraries.SearchDir::dir).toList();
        assertEquals(List.of(explicit, ld, toolkit, newer, older, venvPip, userPip, sysPip), dirs);
        assertEquals("-D" + CudaLibraries.DIR_PROPERTY, libs.searchDirs().getFirst().origin());
        assertEquals("pip nvidia wheel", libs.searchDirs().get(5).origin());
    }

    @Test
    void findPrefersTheFirstMajorAcrossAllFoldersThenTheFolderOrder(@TempDir Path tmp) throws IOException {
        Path root = tmp.resolve("root");
        Path ld = tmp.resolve("ld");
        touch(ld.resolve("libcublasLt.so.12"));
        Path pip13 = touch(tmp.resolve("venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublasLt.so.13"));
        touch(root.resolve("usr/local/cuda/lib64/libcublasLt.so.13"));
        CudaLibraries libs = new CudaLibraries(Map.of("LD_LIBRARY_PATH", ld.toString(),
                "VIRTUAL_ENV", tmp.resolve("venv").toString()), null, tmp.resolve("home"), root);

        CudaLibraries.Found f13 = libs.find("libcublasLt", List.of(13, 12)).orElseThrow();
        assertEquals(root.resolve("usr/local/cuda/lib64/libcublasLt.so.13"), f13.path());
        assertEquals("CUDA toolkit", f13.origin());
        assertEquals(ld.resolve("libcublasLt.so.12"), libs.find("libcublasLt", List.of(12)).orElseThrow().path());

        Files.delete(root.resolve("usr/local/cuda/lib64/libcublasLt.so.13"));
        assertEquals(pip13, libs.find("libcublasLt", List.of(13, 12)).orElseThrow().path());
        assertTrue(libs.find("libnvrtc", List.of(13, 12)).isEmpty());
    }

    @Test
    void environmentVariableFolderComesBeforeLdLibraryPath(@TempDir Path tmp) throws IOException {
        Path envDir = tmp.resolve("envdir");
        Path ld = tmp.resolve("ld");
        touch(envDir.resolve("libcuda.so.1"));
        touch(ld.resolve("libcuda.so.1"));
        CudaLibraries libs = new CudaLibraries(Map.of(CudaLibraries.DIR_ENV, envDir.toString(), "LD_LIBRARY_PATH",
                ld.toString()), null, tmp.resolve("home"), tmp.resolve("root"));
        assertEquals(envDir.resolve("libcuda.so.1"), libs.driverFallbacks().getFirst());
        assertTrue(libs.driverFallbacks().contains(tmp.resolve("root/usr/lib/x86_64-linux-gnu/libcuda.so.1")));
    }

    @Test
    void cuda13LibrariesAreOnlyTriedWithACuda13Driver() {
        assertEquals(List.of(13, 12), CublasLt.preferredMajors(13000));
        assertEquals(List.of(13, 12), CublasLt.preferredMajors(13010));
        assertEquals(List.of(12), CublasLt.preferredMajors(12080));
    }
}
