package dev.fluxerase.cuda;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/** The kernels/ folder as the tests see it: families, the hash kernels/build-ptx.sh records, the shipped PTX. */
final class KernelSources {
    static final Path DIR = Path.of("kernels");

    private KernelSources() {
    }

    static List<String> families() {
        return list(".cu").stream().map(n -> n.substring(0, n.length() - 3)).toList();
    }

    static List<String> list(String suffix) {
        try (Stream<Path> s = Files.list(DIR)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(suffix)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** sha256 of kernels/family.cu followed by every kernels/*.cuh in name order (what build-ptx.sh hashes). */
    static String sourceHash(String family) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(Files.readAllBytes(DIR.resolve(family + ".cu")));
            for (String h : list(".cuh")) {
                md.update(Files.readAllBytes(DIR.resolve(h)));
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The shipped PTX text (without the terminating NUL). */
    static String shippedPtx(String family) {
        byte[] z = CudaKernels.ptx(family);
        return new String(z, 0, z.length - 1, StandardCharsets.US_ASCII);
    }

    static List<String> nvccFlags() {
        try {
            return List.of(Files.readString(DIR.resolve("nvcc-flags.txt")).trim().split("\\s+"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
