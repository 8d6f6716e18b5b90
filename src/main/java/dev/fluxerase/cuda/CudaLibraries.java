package dev.fluxerase.cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Where the CUDA libraries are. Folders are searched in this order: the explicit setting (system property
 * {@value #DIR_PROPERTY} or environment variable {@value #DIR_ENV}, each a path list), {@code LD_LIBRARY_PATH}, the CUDA
 * toolkits ({@code /usr/local/cuda/lib64}, then {@code /usr/local/cuda-*}/lib64, newest first), then the {@code nvidia}
 * pip wheels that PyTorch installs ({@code site-packages/nvidia/}*{@code /lib}) in the Python installations found under
 * {@code $VIRTUAL_ENV}, {@code $CONDA_PREFIX} and the usual prefixes. The driver ({@code libcuda.so.1}) comes with the
 * NVIDIA driver and is also looked up through the system loader.
 */
public final class CudaLibraries {
    public static final String DIR_PROPERTY = "flux.erase.cuda.lib.dir";
    public static final String DIR_ENV = "FLUX_ERASE_CUDA_LIB_DIR";

    /** A folder to search and why it is on the list (shown by the report). */
    public record SearchDir(Path dir, String origin) {
    }

    /** A library file that exists, where it was found. */
    public record Found(String fileName, Path path, String origin) {
    }

    private final Map<String, String> env;
    private final String explicitProperty;
    private final Path home;
    private final Path root;

    /**
     * @param env the environment to read (tests pass their own)
     * @param explicitProperty the value of {@value #DIR_PROPERTY}, or null
     * @param home the user's home folder
     * @param root the file-system root the fixed prefixes hang from ("/" normally; a temp folder in tests)
     */
    CudaLibraries(Map<String, String> env, String explicitProperty, Path home, Path root) {
        this.env = env;
        this.explicitProperty = explicitProperty;
        this.home = home;
        this.root = root;
    }

    public static CudaLibraries system() {
        return new CudaLibraries(System.getenv(), System.getProperty(DIR_PROPERTY),
                Path.of(System.getProperty("user.home", "/root")), Path.of("/"));
    }

    /** Every existing folder to search, in order, without duplicates. */
    public List<SearchDir> searchDirs() {
        Map<Path, SearchDir> dirs = new LinkedHashMap<>();
        addList(dirs, explicitProperty, "-D" + DIR_PROPERTY);
        addList(dirs, env.get(DIR_ENV), DIR_ENV);
        addList(dirs, env.get("LD_LIBRARY_PATH"), "LD_LIBRARY_PATH");
        add(dirs, root.resolve("usr/local/cuda/lib64"), "CUDA toolkit");
        for (Path p : childrenMatching(root.resolve("usr/local"), "cuda-", true)) {
            add(dirs, p.resolve("lib64"), "CUDA toolkit");
        }
        for (Path sp : sitePackages()) {
            for (Path pkg : childrenMatching(sp.resolve("nvidia"), "", false)) {
                add(dirs, pkg.resolve("lib"), "pip nvidia wheel");
            }
        }
        return List.copyOf(dirs.values());
    }

    /**
     * The first {@code base.so.<major>} for the majors in order of preference, each major searched through every folder
     * before the next major.
     */
    public Optional<Found> find(String base, List<Integer> majors) {
        List<SearchDir> dirs = searchDirs();
        for (int major : majors) {
            String file = base + ".so." + major;
            for (SearchDir d : dirs) {
                Path p = d.dir().resolve(file);
                if (Files.isRegularFile(p)) {
                    return Optional.of(new Found(file, p, d.origin()));
                }
            }
        }
        return Optional.empty();
    }

    /** Fixed places where distributions put libcuda.so.1, after the searched folders. */
    List<Path> driverFallbacks() {
        List<Path> out = new ArrayList<>();
        for (SearchDir d : searchDirs()) {
            out.add(d.dir().resolve("libcuda.so.1"));
        }
        for (String p : List.of("usr/lib/x86_64-linux-gnu", "usr/lib64", "usr/lib/aarch64-linux-gnu", "usr/lib/wsl/lib")) {
            out.add(root.resolve(p).resolve("libcuda.so.1"));
        }
        return out;
    }

    /** site-packages / dist-packages folders of the Python installations we know where to look for. */
    List<Path> sitePackages() {
        List<Path> prefixes = new ArrayList<>();
        for (String var : List.of("VIRTUAL_ENV", "CONDA_PREFIX")) {
            String v = env.get(var);
            if (v != null && !v.isBlank()) {
                prefixes.add(Path.of(v));
            }
        }
        prefixes.add(home.resolve(".local"));
        for (String p : List.of("usr/local", "usr", "opt/conda")) {
            prefixes.add(root.resolve(p));
        }
        for (String p : List.of("miniconda3", "anaconda3", "miniforge3")) {
            prefixes.add(home.resolve(p));
        }
        prefixes.addAll(childrenMatching(home.resolve(".pyenv/versions"), "", false));
        List<Path> out = new ArrayList<>();
        for (Path prefix : prefixes) {
            for (String lib : List.of("lib", "lib64")) {
                for (Path py : childrenMatching(prefix.resolve(lib), "python3", true)) {
                    for (String kind : List.of("site-packages", "dist-packages")) {
                        Path sp = py.resolve(kind);
                        if (Files.isDirectory(sp)) {
                            out.add(sp);
                        }
                    }
                }
            }
        }
        return out;
    }

    private static void addList(Map<Path, SearchDir> dirs, String pathList, String origin) {
        if (pathList == null || pathList.isBlank()) {
            return;
        }
        for (String s : pathList.split(":")) {
            if (!s.isBlank()) {
                add(dirs, Path.of(s.trim()), origin);
            }
        }
    }

    /** Keyed by the real path, so /usr/local/cuda and the cuda-13.0 it links to count once. */
    private static void add(Map<Path, SearchDir> dirs, Path dir, String origin) {
        Path n = dir.toAbsolutePath().normalize();
        if (Files.isDirectory(n)) {
            Path key;
            try {
                key = n.toRealPath();
            } catch (IOException e) {
                key = n;
            }
            dirs.putIfAbsent(key, new SearchDir(n, origin));
        }
    }

    /** Sub-folders of {@code dir} whose names start with {@code prefix}, sorted by name (descending if asked). */
    private static List<Path> childrenMatching(Path dir, String prefix, boolean descending) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            Comparator<Path> byName = Comparator.comparing(p -> p.getFileName().toString());
            return s.filter(Files::isDirectory)
                    .filter(p -> p.getFileName().toString().startsWith(prefix))
                    .sorted(descending ? byName.reversed() : byName)
                    .toList();
        } catch (IOException e) {
            return List.of();
        }
    }
}
