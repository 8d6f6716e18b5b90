package dev.fluxerase.cuda;

import dev.fluxerase.tensor.Floats;
import dev.fluxerase.tensor.Tensor;
import dev.fluxerase.testing.BoundedOps;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.DoubleSupplier;
import java.util.function.Supplier;

/**
 * What the GPU tests run on, registered on each GPU test class with {@code @ExtendWith(CudaGpu.class)}: a real GPU when
 * one is usable; else, when {@value #STAND_IN_PROPERTY} is true (the build sets it), the stand-in CUDA libraries of
 * tools/cuda-standin, on which every test runs its host side (bindings, argument packing, launch geometry checked
 * against the hardware limits, GEMM numbers, memory accounting) and skips the checks of numbers that kernels would
 * have computed, since the stand-in runs none; else every test is skipped with the reason.
 *
 * <p>A test that skipped checks is reported as skipped, after all of it ran, with the checks it skipped; one that
 * needed no kernel numbers passes. The backends a class runs on are its static CudaBackend fields marked {@link Open},
 * opened before its tests when they run and closed after them, so no GPU test class sets one up or tears it down. {@code tools/gpu-check.sh --stand-in} selects the stand-in by pointing
 * FLUX_ERASE_CUDA_LIB_DIR at it, so the driver found the usual way is the stand-in; its device name says so.
 */
final class CudaGpu implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterTestExecutionCallback {
    static final String STAND_IN_PROPERTY = "flux.erase.cuda.standin";

    /** A static CudaBackend field of a GPU test class, set to a backend with these attention kernels for its tests. */
    @Retention(RetentionPolicy.RUNTIME)
    // fully qualified: Target is the record below
    @java.lang.annotation.Target(ElementType.FIELD)
    @interface Open {
        CudaBackend.AttentionKernels value() default CudaBackend.AttentionKernels.FLASH_BF16;
    }

    /** The driver and libraries the GPU tests use, or why there are none. */
    private record Target(CudaDriver driver, CudaLibraries libs, boolean standIn, String skipReason) {
    }

    private static Target target;
    private static final Set<String> skippedChecks = new LinkedHashSet<>();
    private static long launchesBefore;

    /**
     * Null when a GPU is usable, else the reason every GPU test is skipped: no driver or device ("no CUDA GPU: ..."), or
     * no cuBLASLt ("no cuBLASLt: ..."), which every backend needs and whose absence would otherwise fail each test's setup.
     */
    static String unavailableReason() {
        return unavailableReason(CudaDriver::get, CudaLibraries.system());
    }

    static String unavailableReason(Supplier<CudaDriver> driver, CudaLibraries libs) {
        int driverVersion;
        try {
            driverVersion = driver.get().driverVersion();
        } catch (CudaUnavailableException e) {
            return "no CUDA GPU: " + e.getMessage();
        }
        try {
            CublasLt.locate(driverVersion, libs);
            return null;
        } catch (CudaUnavailableException e) {
            return e.getMessage();
        }
    }

    private static synchronized Target target() {
        if (target == null) {
            target = find();
        }
        return target;
    }

    private static Target find() {
        String why = unavailableReason();
        if (why == null) {
            CudaDriver d = CudaDriver.get();
            return new Target(d, CudaLibraries.system(), CudaStandIn.is(d), null);
        }
        if (!Boolean.getBoolean(STAND_IN_PROPERTY)) {
            return new Target(null, null, false, why);
        }
        try {
            CudaLibraries libs = CudaStandIn.libraries(CudaStandIn.build());
            return new Target(CudaDriver.load(libs), libs, true, null);
        } catch (CudaStandIn.NotBuilt e) {
            return new Target(null, null, false, why + "; and no stand-in: " + e.getMessage());
        }
    }

    /** Whether the GPU tests run, on a GPU or on the stand-in (for their @BeforeAll). */
    static boolean available() {
        return target().skipReason() == null;
    }

    static boolean standIn() {
        return target().standIn();
    }

    static CudaDriver driver() {
        return target().driver();
    }

    static CudaBackend backend(CudaBackend.AttentionKernels attention) {
        Target t = target();
        return new CudaBackend(t.driver(), 0, attention, d -> CublasLt.load(d, t.libs()));
    }

    private static List<Field> openFields(Class<?> testClass) {
        List<Field> fields = new ArrayList<>();
        for (Field f : testClass.getDeclaredFields()) {
            if (f.isAnnotationPresent(Open.class)) {
                if (!Modifier.isStatic(f.getModifiers()) || f.getType() != CudaBackend.class) {
                    throw new IllegalStateException("@CudaGpu.Open marks static CudaBackend fields, not " + f);
                }
                f.setAccessible(true);
                fields.add(f);
            }
        }
        return fields;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws IllegalAccessException {
        if (!available()) {
            return;
        }
        for (Field f : openFields(context.getRequiredTestClass())) {
            f.set(null, backend(f.getAnnotation(Open.class).value()));
        }
    }

    @Override
    public void afterAll(ExtensionContext context) throws IllegalAccessException {
        for (Field f : openFields(context.getRequiredTestClass())) {
            CudaBackend be = (CudaBackend) f.get(null);
            if (be != null) {
                be.close();
                f.set(null, null);
            }
        }
    }

    private static volatile boolean reasonPrinted;

    /**
     * Skips each test with the reason when there is nothing to run on; the reason is also printed once to the build
     * log, since Maven's console lists skipped tests without their reasons.
     */
    @Override
    public void beforeEach(ExtensionContext context) {
        String why = target().skipReason();
        if (why != null && !reasonPrinted) {
            reasonPrinted = true;
            System.out.println("GPU tests skipped: " + why);
        }
        Assumptions.assumeTrue(why == null, why);
        skippedChecks.clear();
        launchesBefore = standIn() ? CudaStandIn.launchCount(driver()) : 0;
    }

    @Override
    public void afterTestExecution(ExtensionContext context) {
        if (!skippedChecks.isEmpty() && context.getExecutionException().isEmpty()) {
            Assumptions.abort("stand-in: the host side ran, " + (CudaStandIn.launchCount(driver()) - launchesBefore)
                    + " launches checked against the hardware limits and their entries; "
                    + "kernels do not run, so these checks of their numbers were skipped: "
                    + String.join(", ", skippedChecks));
        }
    }

    /** Runs {@code check}, unless on the stand-in, where the numbers it checks were never computed. */
    static void kernelResult(String what, Runnable check) {
        if (standIn()) {
            skippedChecks.add(what);
        } else {
            check.run();
        }
    }

    static Tensor host(float[] values, long... shape) {
        return Tensor.of(values.clone(), shape);
    }

    /**
     * The factor between the error bounds the GPU tests derive (ErrorBounds, RunningError, AttentionBounds) and what they
     * accept. The derivations take as given what no test here can verify: the accuracy CUDA documents for its math
     * functions, IEEE behaviour of cuBLASLt's f32 sums, the tensor cores' truncating adds costing no more than a doubled
     * unit, and the independence of rounding errors behind the probabilistic bounds on fixed data. Two leaves room for
     * one of those to be off by a factor of two without a failure, and still fails any result a bug makes wrong, which
     * is off by orders of magnitude.
     */
    static final double SAFETY = 2;

    /** BoundedOps' checks of kernel results: skipped on the stand-in (see {@link #kernelResult}). */
    static final BoundedOps.Checker KERNELS = new BoundedOps.Checker("", SAFETY, CudaGpu::kernelResult);
    /** BoundedOps' checks of GEMMs, which the stand-in computes too: never skipped. */
    static final BoundedOps.Checker GEMMS = new BoundedOps.Checker("", SAFETY, (what, check) -> check.run());

    static void checkKernel(String what, float[] expected, float[] actual, DoubleSupplier bound) {
        KERNELS.check(what, expected, actual, bound);
    }

    static void checkKernel(String what, Tensor expectedHost, float[] actual, DoubleSupplier bound) {
        checkKernel(what, Floats.toF32(expectedHost), actual, bound);
    }
}
