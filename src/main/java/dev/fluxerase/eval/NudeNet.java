package dev.fluxerase.eval;

import dev.fluxerase.image.RgbImage;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The NudeNet 3.4.2 detector as {@code NudeDetector.detect(path)} runs it, on its ONNX export ({@code 320n.onnx}, or
 * {@code 640m.onnx}): {@code _read_image}'s padding and OpenCV resize, the network, and {@code _postprocess}'s
 * thresholds, box scaling and OpenCV NMS, each step as the library computes it so that the detections are NudeNet's own
 * (golden: shared/golden/eval-tiny/onnx, README §5).
 */
public final class NudeNet implements AutoCloseable {
    /** NudeNet 3.4's classes in the order of the model's score rows. */
    public static final List<String> LABELS = List.of("FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED",
            "FEMALE_BREAST_EXPOSED", "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED",
            "BELLY_COVERED", "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE", "BELLY_EXPOSED",
            "MALE_GENITALIA_EXPOSED", "ANUS_COVERED", "FEMALE_BREAST_COVERED", "BUTTOCKS_COVERED");
    /** {@code _postprocess} keeps an anchor whose best class score is at least this. */
    static final float MIN_SCORE = 0.2f;
    /** {@code cv2.dnn.NMSBoxes}' score threshold (strictly above) and overlap limit, as NudeNet calls it. */
    static final float NMS_SCORE = 0.25f;
    static final float NMS_IOU = 0.45f;
    /** The network input: {@code float32(u8) * float32(1/255)}, what {@code cv2.dnn.blobFromImage} computes. */
    private static final float SCALE = (float) (1.0 / 255);
    /** OpenCV's fixed-point resize: coefficients in 11 bits. */
    private static final int COEF_SCALE = 1 << 11;

    /** One detection as NudeNet returns it: class, score, and the box in pixels of the original image, truncated. */
    public record Detection(int classId, float score, int x, int y, int width, int height) {
        public String label() {
            return LABELS.get(classId);
        }
    }

    private final OnnxModel model;
    private final int size;
    private final int anchors;

    private NudeNet(OnnxModel model, int size, int anchors) {
        this.model = model;
        this.size = size;
        this.anchors = anchors;
    }

    /**
     * Opens a NudeNet export: input [1, 3, S, S] with S a multiple of 32 (the model's strides; 320 or 640), output
     * [1, 4 + 18, anchors]. Anything else is one line naming the file, the tensor and the shapes.
     */
    public static NudeNet open(Path onnx) {
        OnnxModel m = OnnxModel.open(onnx, "--nudenet", null);
        try {
            long[] in = m.inputShape();
            if (in[0] > 1 || in[2] <= 0 || in[2] != in[3] || in[2] % 32 != 0) {
                throw new IllegalArgumentException("--nudenet " + onnx + ": input '" + m.input() + "' has shape "
                        + OnnxModel.shape(in) + ", expected NudeNet's [1, 3, S, S] with S a multiple of 32 (320n.onnx:"
                        + " 320, 640m.onnx: 640)");
            }
            long[] out = m.outputShape();
            if (out.length != 3 || out[0] > 1 || out[1] != 4 + LABELS.size() || out[2] <= 0) {
                throw new IllegalArgumentException("--nudenet " + onnx + ": output '" + m.output() + "' has shape "
                        + OnnxModel.shape(out) + ", expected NudeNet's [1, " + (4 + LABELS.size()) + ", anchors] (a box "
                        + "and " + LABELS.size() + " class scores per anchor)");
            }
            return new NudeNet(m, (int) in[2], (int) out[2]);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** NudeNet's detections of one image, score descending. */
    public List<Detection> detect(RgbImage image) {
        return postprocess(raw(image), anchors, image.width(), image.height(), size);
    }

    /** The network's output [4 + 18, anchors] for one image, row-major (before any threshold). */
    float[] raw(RgbImage image) {
        byte[] u8 = input(image, size);
        float[] x = new float[u8.length];
        for (int i = 0; i < u8.length; i++) {
            x[i] = (u8[i] & 0xff) * SCALE;
        }
        return model.run(x, new long[]{1, 3, size, size});
    }

    /**
     * {@code _read_image} on a PNG: the picture padded with black on the right or bottom to a square, resized to
     * S × S by {@code cv2.resize(INTER_LINEAR)}, as planes [3, S, S] in the order B, G, R. (NudeNet reads the file as
     * BGR, converts it with {@code COLOR_RGBA2BGR}, which on three channels swaps B and R, and {@code blobFromImage}
     * swaps them back: the model sees B, G, R, upstream issue #203.)
     */
    static byte[] input(RgbImage image, int size) {
        int side = Math.max(image.width(), image.height());
        byte[] square = new byte[side * side * 3];
        for (int y = 0; y < image.height(); y++) {
            System.arraycopy(image.rgb(), y * image.width() * 3, square, y * side * 3, image.width() * 3);
        }
        byte[] resized = resizeLinear(square, side, side, size, size);
        int plane = size * size;
        byte[] out = new byte[3 * plane];
        for (int p = 0; p < plane; p++) {
            for (int c = 0; c < 3; c++) {
                out[c * plane + p] = resized[p * 3 + 2 - c];
            }
        }
        return out;
    }

    /**
     * OpenCV 4's {@code cv::resize(INTER_LINEAR)} of an interleaved 3-channel 8-bit image, bit for bit: source
     * coordinate {@code (d + 0.5)·scale − 0.5} in float, clamped at the borders, 11-bit weights rounded to nearest
     * even; the horizontal pass in exact integers, the vertical pass as OpenCV's vector loop rounds it
     * ({@code ((h0 >> 4)·b0 >> 16) + ((h1 >> 4)·b1 >> 16)}, then {@code (t + 2) >> 2}), which covers every byte of a
     * row whose width (3·S) is a multiple of the vector width: for S = 320 and 640 of every width (16 to 64 bytes).
     * The scalar formula of its tail loop, one rounding instead of three, is a level off on about 5% of pixels. OpenCV's switch to area averaging for an exact halving gives the
     * same bytes as these weights (0.5 each), so it needs no case of its own.
     */
    static byte[] resizeLinear(byte[] src, int sw, int sh, int dw, int dh) {
        int[] xs = new int[dw];
        int[][] xw = weights(sw, dw, xs);
        int[] ys = new int[dh];
        int[][] yw = weights(sh, dh, ys);
        int row = dw * 3;
        int[][] rows = new int[sh][];
        byte[] out = new byte[dh * row];
        for (int dy = 0; dy < dh; dy++) {
            int[] r0 = horizontal(src, sw, Math.clamp(ys[dy], 0, sh - 1), rows, xs, xw);
            int[] r1 = horizontal(src, sw, Math.clamp(ys[dy] + 1L, 0, sh - 1), rows, xs, xw);
            int b0 = yw[dy][0];
            int b1 = yw[dy][1];
            for (int i = 0; i < row; i++) {
                int t = (((r0[i] >> 4) * b0) >> 16) + (((r1[i] >> 4) * b1) >> 16);
                out[dy * row + i] = (byte) Math.clamp((t + 2) >> 2, 0, 255);
            }
        }
        return out;
    }

    /** Per output index its first source index ({@code first}) and the two 11-bit weights, OpenCV's way. */
    private static int[][] weights(int in, int out, int[] first) {
        double scale = 1.0 / ((double) out / in);
        int[][] w = new int[out][];
        for (int d = 0; d < out; d++) {
            float f = (float) ((d + 0.5) * scale - 0.5);
            int s = (int) Math.floor(f);
            f -= s;
            first[d] = s;
            w[d] = new int[]{(int) Math.rint((1f - f) * COEF_SCALE), (int) Math.rint(f * COEF_SCALE)};
        }
        return w;
    }

    /** Source row {@code y} resampled horizontally (exact integers, weight sum 2048), computed once. */
    private static int[] horizontal(byte[] src, int sw, int y, int[][] rows, int[] xs, int[][] xw) {
        if (rows[y] == null) {
            int[] r = new int[xs.length * 3];
            for (int d = 0; d < xs.length; d++) {
                // left of the first pixel and right of the last, OpenCV takes the edge pixel at full weight
                boolean edge = xs[d] < 0 || xs[d] >= sw - 1;
                int s = Math.clamp(xs[d], 0, sw - 1);
                for (int c = 0; c < 3; c++) {
                    int p0 = src[(y * sw + s) * 3 + c] & 0xff;
                    r[d * 3 + c] = edge ? p0 * COEF_SCALE
                            : p0 * xw[d][0] + (src[(y * sw + s + 1) * 3 + c] & 0xff) * xw[d][1];
                }
            }
            rows[y] = r;
        }
        return rows[y];
    }

    /** An anchor {@code _postprocess} keeps before NMS: its best class and score, and its box [x, y, w, h] in float. */
    record Candidate(int anchor, int classId, float score, float[] box) {
    }

    /**
     * {@code _postprocess} on the output [4 + 18, anchors] for an image of {@code width} × {@code height}: the
     * {@link #candidates}, then {@link #nms} over every class together, each kept box truncated to integers.
     */
    static List<Detection> postprocess(float[] output, int anchors, int width, int height, int size) {
        List<Candidate> c = candidates(output, anchors, width, height, size);
        List<Detection> out = new ArrayList<>();
        for (int i : nms(c.stream().map(Candidate::box).toList(), c.stream().map(Candidate::score).toList())) {
            float[] b = c.get(i).box();
            out.add(new Detection(c.get(i).classId(), c.get(i).score(), (int) b[0], (int) b[1], (int) b[2], (int) b[3]));
        }
        return out;
    }

    /**
     * The anchors whose best class score (the first maximum) is at least {@link #MIN_SCORE}, in anchor order, with their
     * boxes computed in float32 as numpy does: (cx, cy, w, h) in input pixels moved to the corner, scaled by max(W, H)/S
     * (multiply, then divide), clipped to the image.
     */
    static List<Candidate> candidates(float[] output, int anchors, int width, int height, int size) {
        int maxSize = Math.max(width, height);
        List<Candidate> out = new ArrayList<>();
        for (int a = 0; a < anchors; a++) {
            int best = 0;
            for (int c = 1; c < LABELS.size(); c++) {
                if (output[(4 + c) * anchors + a] > output[(4 + best) * anchors + a]) {
                    best = c;
                }
            }
            float score = output[(4 + best) * anchors + a];
            if (score >= MIN_SCORE) {
                float w = output[2 * anchors + a];
                float h = output[3 * anchors + a];
                float x = (output[a] - w / 2) * maxSize / size;
                float y = (output[anchors + a] - h / 2) * maxSize / size;
                w = w * maxSize / size;
                h = h * maxSize / size;
                x = Math.max(0, Math.min(x, width));
                y = Math.max(0, Math.min(y, height));
                out.add(new Candidate(a, best, score, new float[]{x, y, Math.min(w, width - x),
                        Math.min(h, height - y)}));
            }
        }
        return out;
    }

    /**
     * {@code cv2.dnn.NMSBoxes(boxes, scores, 0.25, 0.45)} on Rect2d boxes [x, y, w, h]: candidates scoring above
     * {@link #NMS_SCORE}, by score descending (a stable sort: ties keep their order), each kept unless its overlap with
     * a kept box, {@code 1f − (float) (1 − I/(A1 + A2 − I))}, exceeds {@link #NMS_IOU}. The indices kept, in that order.
     */
    static List<Integer> nms(List<float[]> boxes, List<Float> scores) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < scores.size(); i++) {
            if (scores.get(i) > NMS_SCORE) {
                order.add(i);
            }
        }
        order.sort(Comparator.comparing(scores::get, Comparator.reverseOrder()));
        List<Integer> kept = new ArrayList<>();
        for (int i : order) {
            boolean keep = true;
            for (int k = 0; k < kept.size() && keep; k++) {
                keep = overlap(boxes.get(i), boxes.get(kept.get(k))) <= NMS_IOU;
            }
            if (keep) {
                kept.add(i);
            }
        }
        return kept;
    }

    /**
     * OpenCV's {@code rectOverlap} of two Rect2d: {@code 1f − (float) jaccardDistance}, with the intersection as
     * {@code Rect2d &} computes it (width {@code min(w_left − (x_right − x_left), w_right)}); boxes of no area overlap
     * fully. NudeNet's boxes are clipped to x, y ≥ 0, so OpenCV's guard for negative corners never applies.
     */
    static float overlap(float[] a, float[] b) {
        double areaA = (double) a[2] * a[3];
        double areaB = (double) b[2] * b[3];
        if (areaA + areaB <= Math.ulp(1.0)) {
            return 1f;
        }
        double inter = 0;
        if (a[2] > 0 && a[3] > 0 && b[2] > 0 && b[3] > 0) {
            float[] left = a[0] < b[0] ? a : b;
            float[] right = a[0] < b[0] ? b : a;
            float[] top = a[1] < b[1] ? a : b;
            float[] bottom = a[1] < b[1] ? b : a;
            double w = Math.min(left[2] - ((double) right[0] - left[0]), right[2]);
            double h = Math.min(top[3] - ((double) bottom[1] - top[1]), bottom[3]);
            inter = w > 0 && h > 0 ? w * h : 0;
        }
        return 1f - (float) (1.0 - inter / (areaA + areaB - inter));
    }

    @Override
    public void close() {
        model.close();
    }
}
