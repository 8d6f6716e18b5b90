package dev.fluxerase.eval;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;

/**
 * One ONNX model with a single float image input [N, 3, H, W], run on ONNX Runtime's CPU provider. The only class that
 * touches ONNX Runtime: its native library is loaded when the first model is opened, so a command without an ONNX
 * metric never loads it (the shaded jar carries linux-x64's only, see evaluate.md).
 */
final class OnnxModel implements AutoCloseable {
    /** A dimension ONNX leaves open (a named or unnamed dynamic axis). */
    static final long DYNAMIC = -1;

    private final Path file;
    private final OrtSession session;
    private final String input;
    private final long[] inputShape;
    private final String output;
    private final long[] outputShape;

    private OnnxModel(Path file, OrtSession session, String input, long[] inputShape, String output,
                      long[] outputShape) {
        this.file = file;
        this.session = session;
        this.input = input;
        this.inputShape = inputShape;
        this.output = output;
        this.outputShape = outputShape;
    }

    /**
     * Opens {@code file} and checks its interface: one float input of rank 4 with 3 channels, and the float output
     * {@code outputName} (null: the first). Every failure is one line starting with {@code option} and the file.
     */
    static OnnxModel open(Path file, String option, String outputName) {
        String where = option + " " + file;
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(where + ": no such file");
        }
        OrtEnvironment env = environment();
        OrtSession session;
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
            session = env.createSession(file.toString(), options);
        } catch (OrtException e) {
            throw new IllegalArgumentException(where + ": ONNX Runtime cannot load it: " + oneLine(e), e);
        }
        try {
            return checked(file, session, where, outputName);
        } catch (RuntimeException e) {
            close(session);
            throw e;
        }
    }

    private static OnnxModel checked(Path file, OrtSession session, String where, String outputName) {
        try {
            Map<String, NodeInfo> inputs = session.getInputInfo();
            if (inputs.size() != 1) {
                throw new IllegalArgumentException(where + ": expected one image input, the model has "
                        + inputs.size() + " " + inputs.keySet());
            }
            NodeInfo in = inputs.values().iterator().next();
            long[] inShape = floatShape(in, where, "input");
            if (inShape.length != 4 || (inShape[1] != 3 && inShape[1] != DYNAMIC)) {
                throw new IllegalArgumentException(where + ": input '" + in.getName() + "' has shape "
                        + shape(inShape) + ", expected an image batch [N, 3, H, W]");
            }
            Map<String, NodeInfo> outputs = session.getOutputInfo();
            NodeInfo out = outputName == null ? outputs.values().iterator().next() : outputs.get(outputName);
            if (out == null) {
                throw new IllegalArgumentException(where + ": no output '" + outputName + "' (outputs "
                        + outputs.keySet() + ")");
            }
            return new OnnxModel(file, session, in.getName(), inShape, out.getName(), floatShape(out, where, "output"));
        } catch (OrtException e) {
            throw new IllegalArgumentException(where + ": " + oneLine(e), e);
        }
    }

    /** The shared environment, its native library loaded here on first use; a platform without one is one line. */
    private static OrtEnvironment environment() {
        try {
            return OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "flux-erase");
        } catch (LinkageError e) {
            String platform = System.getProperty("os.name") + " " + System.getProperty("os.arch");
            throw new IllegalStateException("ONNX Runtime's native library did not load on " + platform + ": "
                    + oneLine(e) + "; flux-erase's jar carries linux-x64's, for another platform pass "
                    + "-Donnxruntime.native.path=DIR, DIR holding its libraries from the onnxruntime jar "
                    + "(docs/evaluate.md)", e);
        }
    }

    private static long[] floatShape(NodeInfo node, String where, String what) {
        if (!(node.getInfo() instanceof TensorInfo t) || t.type != OnnxJavaType.FLOAT) {
            throw new IllegalArgumentException(where + ": " + what + " '" + node.getName() + "' is " + node.getInfo()
                    + ", expected a float32 tensor");
        }
        return t.getShape();
    }

    String input() {
        return input;
    }

    /** [N, 3, H, W] as the model declares it; {@link #DYNAMIC} where a dimension is open. */
    long[] inputShape() {
        return inputShape.clone();
    }

    String output() {
        return output;
    }

    /** The output's declared shape, {@link #DYNAMIC} where open. */
    long[] outputShape() {
        return outputShape.clone();
    }

    Path file() {
        return file;
    }

    /** One run: {@code pixels} of shape {@code shape} in, the output's values out (row-major). */
    float[] run(float[] pixels, long[] shape) {
        try (OnnxTensor x = OnnxTensor.createTensor(OrtEnvironment.getEnvironment(), FloatBuffer.wrap(pixels), shape);
             OrtSession.Result r = session.run(Map.of(input, x), Set.of(output))) {
            FloatBuffer b = ((OnnxTensor) r.get(0)).getFloatBuffer();
            float[] values = new float[b.remaining()];
            b.get(values);
            return values;
        } catch (OrtException e) {
            throw new IllegalArgumentException(file + ": ONNX Runtime failed on an input of shape " + shape(shape) + ": "
                    + oneLine(e), e);
        }
    }

    /** A shape as the messages show it: an open dimension as "?". */
    static String shape(long[] shape) {
        return Arrays.stream(shape).mapToObj(d -> d == DYNAMIC ? "?" : Long.toString(d)).toList().toString();
    }

    /** ONNX Runtime's message in one line (its load errors span several). */
    private static String oneLine(Throwable e) {
        return String.valueOf(e.getMessage()).strip().replaceAll("\\s*\n\\s*", " ");
    }

    private static void close(OrtSession s) {
        try {
            s.close();
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime: closing a session: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        close(session);
    }
}
