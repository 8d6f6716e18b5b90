package dev.fluxerase.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Help text breaks lines at spaces only, within the 80 columns, for every command. */
class HelpLayoutTest {
    @Test
    void wrapFillsWordsAndNeverCutsOne() {
        assertEquals(List.of("a bb", "ccc", "checkpoint.safetensors", "d"),
                HelpLayout.wrap("a bb ccc checkpoint.safetensors d", 5));
        assertEquals(List.of(), HelpLayout.wrap("   ", 10));
    }

    @Test
    void fileAndModuleNamesStayWholeInEveryCommandsHelp() {
        String erase = CliRun.of("erase", "--help").out();
        for (String whole : List.of("attn.add_q_proj", "checkpoint.safetensors", "[--synonyms=W[,W...]]...",
                "(<output>/pytorch_lora_weights.safetensors),")) {
            assertTrue(erase.contains(whole), whole + " cut in:\n" + erase);
        }
        CommandLine main = new CommandLine(new Main());
        for (Map.Entry<String, CommandLine> e : main.getSubcommands().entrySet()) {
            if (e.getKey().equals("help")) {
                continue;
            }
            String help = CliRun.of(e.getKey(), "--help").out();
            assertTrue(help.startsWith("Usage: flux-erase " + e.getKey()), help);
            for (String line : help.lines().toList()) {
                assertTrue(line.length() <= 80 || !line.strip().contains(" ") || line.startsWith("  flux-erase "),
                        e.getKey() + ": line of " + line.length() + ": " + line);
            }
        }
    }
}
