package dev.fluxerase.pipeline;

import java.util.ArrayList;
import java.util.List;

/**
 * RFC 4180 CSV: comma-separated fields, a field in double quotes may hold commas, line breaks and doubled quotes ("");
 * records end at LF or CRLF. Spaces are kept as they are.
 */
public final class Csv {

    /** One record and the 1-based line it starts on. */
    public record Row(int line, List<String> fields) {
    }

    private Csv() {
    }

    /** Parses a whole file's text; {@code source} names it in errors. Blank lines are skipped. */
    public static List<Row> parse(String text, String source) {
        List<Row> rows = new ArrayList<>();
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        int line = 1;
        int rowLine = 1;
        boolean quoted = false;
        boolean wasQuoted = false;
        int i = text.startsWith("\uFEFF") ? 1 : 0;
        while (i < text.length()) {
            char ch = text.charAt(i);
            if (quoted) {
                if (ch == '"') {
                    if (i + 1 < text.length() && text.charAt(i + 1) == '"') {
                        field.append('"');
                        i++;
                    } else {
                        quoted = false;
                    }
                } else {
                    if (ch == '\n') {
                        line++;
                    }
                    field.append(ch);
                }
            } else if (ch == '"') {
                if (field.length() > 0 || wasQuoted) {
                    throw new PipelineException(source + " line " + line + ": a quote inside an unquoted field (quote"
                            + " the whole field and double the quote: \"say \"\"hi\"\"\")");
                }
                quoted = true;
                wasQuoted = true;
            } else if (ch == ',') {
                fields.add(field.toString());
                field.setLength(0);
                wasQuoted = false;
            } else if (ch == '\n' || ch == '\r') {
                if (ch == '\r' && i + 1 < text.length() && text.charAt(i + 1) == '\n') {
                    i++;
                }
                fields.add(field.toString());
                if (fields.size() > 1 || wasQuoted || !fields.getFirst().isEmpty()) {
                    rows.add(new Row(rowLine, List.copyOf(fields)));
                }
                fields.clear();
                field.setLength(0);
                wasQuoted = false;
                line++;
                rowLine = line;
            } else {
                if (wasQuoted) {
                    throw new PipelineException(source + " line " + line + ": text after a closing quote");
                }
                field.append(ch);
            }
            i++;
        }
        if (quoted) {
            throw new PipelineException(source + " line " + rowLine + ": a quoted field is not closed");
        }
        fields.add(field.toString());
        if (fields.size() > 1 || wasQuoted || !fields.getFirst().isEmpty()) {
            rows.add(new Row(rowLine, List.copyOf(fields)));
        }
        return rows;
    }

    /** A field as CSV: quoted when it holds a comma, quote, CR or LF, or starts or ends with a space. */
    public static String quote(String s) {
        boolean needs = s.indexOf(',') >= 0 || s.indexOf('"') >= 0 || s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0
                || (!s.isEmpty() && (s.charAt(0) == ' ' || s.charAt(s.length() - 1) == ' '));
        return needs ? '"' + s.replace("\"", "\"\"") + '"' : s;
    }

    /** One record, fields quoted as needed, ending in \n. */
    public static String line(List<String> fields) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < fields.size(); i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(quote(fields.get(i)));
        }
        return sb.append('\n').toString();
    }
}
