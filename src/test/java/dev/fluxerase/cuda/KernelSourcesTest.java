package dev.fluxerase.cuda;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The PTX in the jar is in sync with kernels/ (no nvcc needed): each module records the sha256 of its sources, and every
 * {@link Kernel} the Java side launches exists in its module with the parameter kinds Java packs.
 */
class KernelSourcesTest {
    private static final Pattern HEADER =
            Pattern.compile("^// flux-erase: generated from kernels/(\\w+)\\.cu by kernels/build-ptx\\.sh; sources sha256 (\\p{XDigit}{64})\n");
    private static final Pattern ENTRY = Pattern.compile("\\.visible \\.entry (\\w+)\\(([^)]*)\\)");
    private static final Pattern PARAM = Pattern.compile("\\.param \\.(\\w+) \\w+");

    @Test
    void everyFamilyHasPtxBuiltFromItsCurrentSources() {
        assertEquals(KernelSources.families(), Kernel.families().stream().sorted().toList(),
                "kernels/*.cu and the Kernel enum's families");
        for (String family : KernelSources.families()) {
            String ptx = KernelSources.shippedPtx(family);
            Matcher m = HEADER.matcher(ptx);
            assertTrue(m.find(), family + ".ptx lacks the build-ptx.sh header");
            assertEquals(family, m.group(1));
            assertEquals(KernelSources.sourceHash(family), m.group(2),
                    "kernels/" + family + ".cu (or a .cuh) changed since its PTX was generated: run kernels/build-ptx.sh");
        }
    }

    /** Each entry's PTX parameters as kinds: .u64 holds a pointer or a long long, .u32 an int, .f32 a float. */
    static Map<String, List<String>> entries(String ptx) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        Matcher e = ENTRY.matcher(ptx);
        while (e.find()) {
            List<String> types = new ArrayList<>();
            Matcher p = PARAM.matcher(e.group(2));
            while (p.find()) {
                types.add(p.group(1));
            }
            out.put(e.group(1), types);
        }
        return out;
    }

    @Test
    void everyLaunchedKernelExistsWithTheParametersJavaPacks() {
        for (Kernel k : Kernel.values()) {
            Map<String, List<String>> entries = entries(KernelSources.shippedPtx(k.family()));
            List<String> ptxTypes = entries.get(k.entry());
            assertTrue(ptxTypes != null, k.entry() + " is not an entry of " + k.family() + ".ptx: " + entries.keySet());
            List<String> expected = k.params().stream().map(c -> switch (c) {
                case 'P', 'L' -> "u64";
                case 'I' -> "u32";
                case 'F' -> "f32";
                default -> throw new IllegalStateException("kind " + c);
            }).toList();
            assertEquals(expected, ptxTypes, k + " (" + k.entry() + ") parameters");
        }
    }

    @Test
    void everyEntryInThePtxIsLaunchedFromJava() {
        for (String family : KernelSources.families()) {
            for (String entry : entries(KernelSources.shippedPtx(family)).keySet()) {
                assertTrue(java.util.Arrays.stream(Kernel.values()).anyMatch(k -> k.entry().equals(entry)),
                        family + ".ptx entry " + entry + " has no Kernel constant");
            }
        }
    }

    @Test
    void flashBackwardSharedMemoryMatchesTheKernel() {
        Matcher m = Pattern.compile("\\.u32 flash_attn_bwd_smem_bytes = (\\d+);").matcher(KernelSources.shippedPtx("attention"));
        assertTrue(m.find(), "attention.ptx publishes flash_attn_bwd_smem_bytes");
        assertEquals(Integer.parseInt(m.group(1)), Kernel.FLASH_BWD_SMEM_BYTES);
        assertTrue(Kernel.FLASH_BWD_SMEM_BYTES <= 99 * 1024, "fits the opt-in shared memory of sm_80 / sm_86 / sm_90");
    }

    @Test
    void everyKernelFileSaysWhatItSavesForTheBackward() throws Exception {
        for (String family : KernelSources.families()) {
            String src = java.nio.file.Files.readString(KernelSources.DIR.resolve(family + ".cu"));
            assertTrue(src.startsWith("// "), family + ".cu starts with its header comment");
            String header = src.substring(0, src.indexOf("#include"));
            assertTrue(header.toLowerCase(java.util.Locale.ROOT).contains("save"), family + ".cu header names what is saved");
        }
    }
}
