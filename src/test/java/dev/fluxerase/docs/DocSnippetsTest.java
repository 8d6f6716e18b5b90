package dev.fluxerase.docs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every ```java block in docs/ compiles against the current sources, as a reader would compile it. */
class DocSnippetsTest {
    private static final Pattern BLOCK = Pattern.compile("```java\n(.*?)```", Pattern.DOTALL);
    private static final Pattern CLASS = Pattern.compile("(?m)^public (?:final )?class (\\w+)");

    @TempDir
    Path tmp;

    @Test
    void everyJavaBlockInTheDocsCompiles() throws Exception {
        List<Path> sources = new ArrayList<>();
        try (Stream<Path> docs = Files.list(Path.of("docs"))) {
            for (Path doc : docs.filter(p -> p.toString().endsWith(".md")).sorted().toList()) {
                Matcher m = BLOCK.matcher(Files.readString(doc));
                while (m.find()) {
                    Matcher c = CLASS.matcher(m.group(1));
                    assertTrue(c.find(), doc + ": a java block without a public class");
                    Path dir = Files.createDirectories(tmp.resolve(doc.getFileName() + "-" + sources.size()));
                    sources.add(Files.writeString(dir.resolve(c.group(1) + ".java"), m.group(1)));
                }
            }
        }
        assertFalse(sources.isEmpty(), "docs/api.md's example is gone");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, null, null)) {
            boolean ok = javac.getTask(null, files, diagnostics, List.of("--add-modules", "jdk.incubator.vector",
                    "-Xlint:-incubating", "-cp", System.getProperty("java.class.path"), "-d",
                    tmp.resolve("classes").toString()), null, files.getJavaFileObjectsFromPaths(sources)).call();
            assertEquals(List.of(), diagnostics.getDiagnostics().stream()
                    .filter(d -> d.getKind() == javax.tools.Diagnostic.Kind.ERROR).map(Object::toString).toList());
            assertTrue(ok);
        }
    }
}
