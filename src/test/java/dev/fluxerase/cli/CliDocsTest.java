package dev.fluxerase.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** docs/cli.md documents every command of Main and every option of each (help and version aside). */
class CliDocsTest {
    @Test
    void everyCommandAndOptionIsDocumented() throws Exception {
        String doc = Files.readString(Path.of("docs/cli.md"));
        List<String> missing = new ArrayList<>();
        for (Map.Entry<String, CommandLine> e : new CommandLine(new Main()).getSubcommands().entrySet()) {
            if (e.getKey().equals("help")) {
                continue;
            }
            if (!doc.contains("\n## " + e.getKey() + "\n")) {
                missing.add("section ## " + e.getKey());
            }
            for (OptionSpec o : e.getValue().getCommandSpec().options()) {
                String name = o.longestName();
                if (!name.equals("--help") && !name.equals("--version") && !doc.contains("`" + name)) {
                    missing.add(e.getKey() + " " + name);
                }
            }
        }
        assertEquals(List.of(), missing, "not in docs/cli.md");
    }
}
