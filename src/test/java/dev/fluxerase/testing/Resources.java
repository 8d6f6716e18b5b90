package dev.fluxerase.testing;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

/** Files under src/test/resources, by their path there. */
public final class Resources {
    private Resources() {
    }

    /** The file or folder {@code name} (relative to src/test/resources) as it sits on the test class path. */
    public static Path path(String name) {
        URL url = Resources.class.getClassLoader().getResource(name);
        if (url == null) {
            throw new IllegalStateException("no test resource " + name);
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
