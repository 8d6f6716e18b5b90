package dev.fluxerase.docs;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A link from docs/ to a line of our code, [`Class.member`](../src/main/java/.../Class.java#L123), must land on that
 * member: line 123 names it (a declaration, or the line that computes it). Lines move as code changes; this test says
 * which links to mend instead of letting docs/method.md point at the wrong code.
 */
class DocLinksTest {
    private static final Pattern LINK = Pattern.compile("\\[`([\\w.]+)`]\\(\\.\\./(src/[\\w/.-]+\\.java)#L(\\d+)\\)");

    @Test
    void everyLineLinkLandsOnWhatItNames() throws Exception {
        List<String> wrong = new ArrayList<>();
        int links = 0;
        try (Stream<Path> docs = Files.list(Path.of("docs"))) {
            for (Path doc : docs.filter(p -> p.toString().endsWith(".md")).sorted().toList()) {
                Matcher m = LINK.matcher(Files.readString(doc));
                while (m.find()) {
                    links++;
                    String text = m.group(1);
                    String member = text.substring(text.lastIndexOf('.') + 1);
                    Path file = Path.of(m.group(2));
                    int line = Integer.parseInt(m.group(3));
                    List<String> lines = Files.isRegularFile(file) ? Files.readAllLines(file) : List.of();
                    if (line < 1 || line > lines.size() || !lines.get(line - 1).contains(member)) {
                        wrong.add(doc.getFileName() + ": " + text + " -> " + file + ":" + line + (line >= 1
                                && line <= lines.size() ? " is \"" + lines.get(line - 1).strip() + "\"" : ""));
                    }
                }
            }
        }
        assertEquals(List.of(), wrong, links + " links checked");
    }
}
