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
 * member's declaration: line 123 declares the method (a type, then the name and "(") or the constant. Lines move as code changes; this test says
 * which links to mend instead of letting docs/method.md point at the wrong code.
 */
class DocLinksTest {
    /** Code, not a comment, and the name outside any string literal. */
    private static boolean declares(Pattern declaration, String line) {
        String code = line.strip();
        Matcher m = declaration.matcher(line);
        return !code.startsWith("*") && !code.startsWith("/") && m.find()
                && line.substring(0, m.start()).chars().filter(c -> c == '"').count() % 2 == 0;
    }

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
                    Pattern declares = Pattern.compile("[\\w>\\]]\\s+" + Pattern.quote(member) + "\\s*\\(|static final .*\\b"
                            + Pattern.quote(member) + "\\s*=");
                    if (line < 1 || line > lines.size() || !declares(declares, lines.get(line - 1))) {
                        wrong.add(doc.getFileName() + ": " + text + " -> " + file + ":" + line + (line >= 1
                                && line <= lines.size() ? " is \"" + lines.get(line - 1).strip() + "\"" : ""));
                    }
                }
            }
        }
        assertEquals(List.of(), wrong, links + " links checked");
    }
}
