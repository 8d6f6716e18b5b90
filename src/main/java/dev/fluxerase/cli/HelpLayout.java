package dev.fluxerase.cli;

import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Help.Ansi.Text;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.UsageMessageSpec;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Usage help that breaks lines at spaces only. picocli wraps with the JDK's line BreakIterator, which also breaks after
 * '.', '-' and '[', so file names, module names and option forms came out cut in two ("checkpoint." / "safetensors");
 * these renderers lay out the synopsis, the description and the option list themselves, with picocli's texts.
 */
final class HelpLayout {
    /** The description column of the option list starts here, as in picocli's default layout. */
    private static final int OPTION_COLUMN = 29;

    private HelpLayout() {
    }

    /** Installs the renderers on {@code cl} and every subcommand. */
    static void install(CommandLine cl) {
        Map<String, CommandLine.IHelpSectionRenderer> m = cl.getHelpSectionMap();
        m.put(UsageMessageSpec.SECTION_KEY_SYNOPSIS, HelpLayout::synopsis);
        m.put(UsageMessageSpec.SECTION_KEY_DESCRIPTION, HelpLayout::description);
        m.put(UsageMessageSpec.SECTION_KEY_OPTION_LIST, HelpLayout::options);
        cl.getSubcommands().values().forEach(HelpLayout::install);
    }

    private static int width(Help help) {
        return help.commandSpec().usageMessage().width();
    }

    /** picocli's synopsis laid out on one very long line, then wrapped at spaces under the command name. */
    private static String synopsis(Help help) {
        UsageMessageSpec u = help.commandSpec().usageMessage();
        int w = u.width();
        String line;
        try {
            u.width(Integer.MAX_VALUE / 4);
            line = help.synopsis(0).replaceAll("\\s+", " ").strip();
        } finally {
            u.width(w);
        }
        // the heading section prints "Usage: " before this
        String name = help.commandSpec().qualifiedName();
        String body = line.startsWith(name) ? line.substring(name.length()).strip() : line;
        int indent = "Usage: ".length() + name.length() + 1;
        return name + " " + String.join(System.lineSeparator() + " ".repeat(indent), wrap(body, w - indent))
                + System.lineSeparator();
    }

    private static String description(Help help) {
        StringBuilder sb = new StringBuilder();
        for (String paragraph : help.commandSpec().usageMessage().description()) {
            for (String l : wrap(paragraph, width(help))) {
                sb.append(l).append(System.lineSeparator());
            }
        }
        return sb.toString();
    }

    /** One entry per option: its names and parameter in the left column, its description wrapped beside them. */
    private static String options(Help help) {
        Help.IOptionRenderer renderer = help.createDefaultOptionRenderer();
        Help.IParamLabelRenderer labels = help.createDefaultParamLabelRenderer();
        StringBuilder sb = new StringBuilder();
        int w = width(help);
        for (OptionSpec o : help.commandSpec().options()) {
            if (o.hidden()) {
                continue;
            }
            Text[][] rows = renderer.render(o, labels, help.colorScheme());
            // picocli's columns: marker (2), short name (2), comma (1), long name with its parameter, description
            String[] cols = new String[rows[0].length];
            for (int c = 0; c < cols.length; c++) {
                cols[c] = rows[0][c].plainString();
            }
            String left = pad(cols[0], 2) + pad(cols[1], 2) + pad(cols[2], 1) + " " + cols[3].strip();
            StringBuilder text = new StringBuilder();
            for (int r = 0; r < rows.length; r++) {
                String d = rows[r][rows[r].length - 1].plainString().strip();
                if (!d.isEmpty()) {
                    text.append(text.isEmpty() ? "" : " ").append(d);
                }
            }
            String names = left.stripTrailing();
            List<String> lines = wrap(text.toString(), w - OPTION_COLUMN - 2);
            if (names.length() + 2 > OPTION_COLUMN) {
                sb.append(names).append(System.lineSeparator());
                names = "";
            }
            String pad = " ".repeat(OPTION_COLUMN);
            for (int i = 0; i < Math.max(1, lines.size()); i++) {
                String first = i == 0 ? names + " ".repeat(OPTION_COLUMN - names.length()) : pad + "  ";
                sb.append((first + (lines.isEmpty() ? "" : lines.get(i))).stripTrailing())
                        .append(System.lineSeparator());
            }
        }
        return sb.toString();
    }

    private static String pad(String s, int width) {
        return s.length() >= width ? s : s + " ".repeat(width - s.length());
    }

    /** Words (runs without spaces) filled into lines of at most {@code width}; a longer word gets a line of its own. */
    static List<String> wrap(String text, int width) {
        List<String> out = new ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (String word : text.strip().split(" +")) {
            if (word.isEmpty()) {
                continue;
            }
            if (!line.isEmpty() && line.length() + 1 + word.length() > width) {
                out.add(line.toString());
                line.setLength(0);
            }
            line.append(line.isEmpty() ? "" : " ").append(word);
        }
        if (!line.isEmpty()) {
            out.add(line.toString());
        }
        return out;
    }
}
