package dev.fluxerase.cuda;

import dev.fluxerase.tensor.DType;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/**
 * Loads the PTX modules shipped in the jar (one per kernels/*.cu family, JIT-compiled by the driver for the GPU present
 * and cached by it) and launches their kernels on one stream. Arguments are checked against {@link Kernel#params()}
 * before they become the {@code void*[]} that cuLaunchKernel reads.
 */
final class CudaKernels implements AutoCloseable {
    static final String PTX_RESOURCE_DIR = "/dev/fluxerase/cuda/ptx/";

    private final CudaDriver driver;
    private final MemorySegment stream;
    private final Map<String, MemorySegment> modules = new HashMap<>();
    private final Map<Kernel, MemorySegment> functions = new EnumMap<>(Kernel.class);

    CudaKernels(CudaDriver driver, MemorySegment stream) {
        this.driver = driver;
        this.stream = stream;
    }

    /** The dtype number the kernels' load_as_f32 / store_from_f32 switch on (kernels/common.cuh DT_*). */
    static int dtypeCode(DType t) {
        return switch (t) {
            case F32 -> 0;
            case BF16 -> 1;
            case F16 -> 2;
            default -> throw new IllegalArgumentException("the CUDA kernels read F32, BF16 or F16, not " + t);
        };
    }

    /**
     * The PTX text of a family from the classpath (stored gzipped, as kernels/build-ptx.sh writes it), NUL-terminated as
     * cuModuleLoadData wants it.
     */
    static byte[] ptx(String family) {
        String res = PTX_RESOURCE_DIR + family + ".ptx.gz";
        try (InputStream in = CudaKernels.class.getResourceAsStream(res)) {
            if (in == null) {
                throw new CudaException("kernel module " + res + " is missing from the classpath (run kernels/build-ptx.sh)");
            }
            byte[] text;
            try (InputStream gz = new GZIPInputStream(in)) {
                text = gz.readAllBytes();
            }
            byte[] z = new byte[text.length + 1];
            System.arraycopy(text, 0, z, 0, text.length);
            return z;
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + res, e);
        }
    }

    synchronized MemorySegment function(Kernel k) {
        MemorySegment f = functions.get(k);
        if (f == null) {
            MemorySegment module = modules.computeIfAbsent(k.family(), fam -> {
                try (Arena a = Arena.ofConfined()) {
                    return driver.moduleLoad(a.allocateFrom(ValueLayout.JAVA_BYTE, ptx(fam)), fam + ".ptx");
                }
            });
            f = driver.moduleFunction(module, k.entry());
            if (k == Kernel.FLASH_ATTN_BWD) {
                driver.functionSetAttribute(f, CudaDriver.FUNC_ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES, Kernel.FLASH_BWD_SMEM_BYTES);
            }
            functions.put(k, f);
        }
        return f;
    }

    /**
     * The {@code void*[]} for a launch: one 8-byte slot per argument holding its value, and an array of their addresses
     * ended by a NULL. Long for P and L, Integer for I, Float for F. The driver reads exactly as many pointers as the
     * kernel has parameters and never the NULL; the stand-in driver (tools/cuda-standin) counts up to it, so that it can
     * refuse a launch with the wrong number of arguments as the real one cannot.
     */
    static MemorySegment packArguments(Arena arena, Kernel k, Object... args) {
        if (args.length != k.params().size()) {
            throw new IllegalArgumentException(k.entry() + " takes " + k.params().size() + " arguments, got " + args.length);
        }
        MemorySegment slots = arena.allocate(8L * Math.max(1, args.length), 8);
        MemorySegment ptrs = arena.allocate(ValueLayout.ADDRESS, args.length + 1);
        for (int i = 0; i < args.length; i++) {
            char kind = k.params().get(i);
            Object v = args[i];
            MemorySegment slot = slots.asSlice(8L * i, 8);
            switch (kind) {
                case 'P', 'L' -> slot.set(ValueLayout.JAVA_LONG, 0, requireType(k, i, v, Long.class));
                case 'I' -> slot.set(ValueLayout.JAVA_INT, 0, requireType(k, i, v, Integer.class));
                case 'F' -> slot.set(ValueLayout.JAVA_FLOAT, 0, requireType(k, i, v, Float.class));
                default -> throw new IllegalStateException("parameter kind " + kind);
            }
            ptrs.setAtIndex(ValueLayout.ADDRESS, i, slot);
        }
        ptrs.setAtIndex(ValueLayout.ADDRESS, args.length, MemorySegment.NULL);
        return ptrs;
    }

    private static <T> T requireType(Kernel k, int i, Object v, Class<T> type) {
        if (!type.isInstance(v)) {
            throw new IllegalArgumentException(k.entry() + " argument " + i + " (" + k.params().get(i) + ") must be a "
                    + type.getSimpleName() + ", got " + (v == null ? "null" : v.getClass().getSimpleName()));
        }
        return type.cast(v);
    }

    void launch(Kernel k, int gridX, int gridY, int gridZ, int block, int sharedBytes, Object... args) {
        MemorySegment f = function(k);
        try (Arena a = Arena.ofConfined()) {
            driver.launch(f, k.entry(), gridX, gridY, gridZ, block, 1, 1, sharedBytes, stream, packArguments(a, k, args));
        }
        if (CudaDebug.syncEachCall()) {
            CudaDebug.waitFor(driver, stream, () -> k.entry() + "<<<(" + gridX + ", " + gridY + ", " + gridZ + "), ("
                    + block + ", 1, 1), " + sharedBytes + " B shared>>>(" + CudaDebug.arguments(args) + ")");
        }
    }

    /** A 1-D launch of 256-thread blocks covering n elements (grid-stride kernels take any remainder). */
    void launch1d(Kernel k, long n, Object... args) {
        long blocks = Math.max(1, Math.min((n + 255) / 256, 1L << 20));
        launch(k, (int) blocks, 1, 1, 256, 0, args);
    }

    /** One warp per row, 8 rows per 256-thread block. */
    void launchRows(Kernel k, long rows, Object... args) {
        long blocks = Math.max(1, (rows + 7) / 8);
        if (blocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(k.entry() + ": " + rows + " rows is too many for one launch");
        }
        launch(k, (int) blocks, 1, 1, 256, 0, args);
    }

    @Override
    public synchronized void close() {
        for (MemorySegment m : modules.values()) {
            driver.moduleUnload(m);
        }
        modules.clear();
        functions.clear();
    }
}
