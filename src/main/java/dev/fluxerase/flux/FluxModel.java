package dev.fluxerase.flux;

import dev.fluxerase.flux.FluxLayout.Param;
import dev.fluxerase.lora.LoraModule;
import dev.fluxerase.tensor.Backend;
import dev.fluxerase.tensor.DType;
import dev.fluxerase.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The FLUX.1 flow transformer (BFL {@code flux.model.Flux}), forward and backward on one {@link Backend}.
 *
 * <p>Usage: {@link #forward} computes the output for {@link FluxInputs} and keeps what the backward needs;
 * {@link #backward} then adds dL/d(parameters, LoRA, inputs) for a given dL/d out into {@link FluxGradients}.
 * With checkpointing on, the forward keeps only each block's input and the backward recomputes one block at a time
 * before its backward. Activations live in a workspace that is rebuilt only when the batch size, token counts,
 * checkpointing or the LoRA set change, so repeated steps allocate nothing per op.
 */
public final class FluxModel {
    /** Width of the timestep and guidance sinusoids. */
    public static final int TIMESTEP_DIM = 256;

    private final FluxConfig config;
    private final Backend be;
    private final Linear xEmbedder;
    private final Linear contextEmbedder;
    private final Embedders embedders;
    private final DoubleBlock[] doubles;
    private final SingleBlock[] singles;
    private final FinalLayer finalLayer;
    private final Map<String, List<Linear>> byModule;
    private final Map<String, Param> paramsByName;
    private final float attnScale;
    private final Map<String, LoraModule> loras = new LinkedHashMap<>();
    /** Device copies of host LoRA factors (a LoRA file's, for sampling), given back when the LoRAs are replaced. */
    private final Buffers loraCopies;
    private boolean checkpointing;
    /** The dtype of the MLP activations (see {@link #setMlpActivations}). */
    private DType mlpActivations = DType.F32;
    private Workspace ws;
    private FluxInputs last;
    private Rope rope;

    public FluxModel(FluxWeights weights, Backend backend) {
        this.config = weights.config();
        this.be = backend;
        this.loraCopies = new Buffers(backend);
        this.attnScale = (float) (1.0 / Math.sqrt(config.headDim()));
        this.paramsByName = new LinkedHashMap<>();
        for (Param p : weights.layout().params()) {
            paramsByName.put(p.name(), p);
        }
        Map<String, List<Linear>> modules = new LinkedHashMap<>();
        Factory f = new Factory(weights, modules, backend);
        xEmbedder = f.linear("x_embedder");
        contextEmbedder = f.linear("context_embedder");
        String te = "time_text_embed.";
        embedders = new Embedders(
                new Embedders.Mlp(f.linear(te + "timestep_embedder.linear_1"), f.linear(te + "timestep_embedder.linear_2")),
                config.guidanceEmbed() ? new Embedders.Mlp(f.linear(te + "guidance_embedder.linear_1"),
                        f.linear(te + "guidance_embedder.linear_2")) : null,
                new Embedders.Mlp(f.linear(te + "text_embedder.linear_1"), f.linear(te + "text_embedder.linear_2")));
        doubles = new DoubleBlock[config.depth()];
        for (int i = 0; i < doubles.length; i++) {
            String d = "transformer_blocks." + i + ".";
            doubles[i] = new DoubleBlock(i,
                    f.stream(d, "norm1.linear", "attn.to_q", "attn.to_k", "attn.to_v", "attn.norm_q", "attn.norm_k",
                            "attn.to_out.0", "ff"),
                    f.stream(d, "norm1_context.linear", "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj",
                            "attn.norm_added_q", "attn.norm_added_k", "attn.to_add_out", "ff_context"));
        }
        singles = new SingleBlock[config.depthSingleBlocks()];
        for (int i = 0; i < singles.length; i++) {
            String d = "single_transformer_blocks." + i + ".";
            singles[i] = new SingleBlock(i, f.linear(d + "norm.linear"), f.linear(d + "attn.to_q"),
                    f.linear(d + "attn.to_k"), f.linear(d + "attn.to_v"), f.linear(d + "proj_mlp"),
                    f.tensor(d + "attn.norm_q.weight"), d + "attn.norm_q.weight", f.tensor(d + "attn.norm_k.weight"),
                    d + "attn.norm_k.weight", f.linear(d + "proj_out"));
        }
        long h = config.hiddenSize();
        finalLayer = new FinalLayer(f.half("norm_out.linear", "shift", h), f.half("norm_out.linear", "scale", 0),
                f.linear("proj_out"));
        byModule = Collections.unmodifiableMap(modules);
    }

    /** Builds Linears from internal parameters and indexes them by diffusers module. */
    private record Factory(FluxWeights w, Map<String, List<Linear>> modules, Backend be) {
        Tensor tensor(String name) {
            Tensor t = w.tensor(name);
            if (t.device() != be.device()) {
                throw new IllegalArgumentException("weights are on " + t.device() + ", backend " + be.name() + " on "
                        + be.device());
            }
            return t;
        }

        Linear linear(String module) {
            boolean hasBias = w.layout().param(module + ".bias") != null;
            Linear l = new Linear(module, module + ".weight", hasBias ? module + ".bias" : null,
                    tensor(module + ".weight"), hasBias ? tensor(module + ".bias") : null, 0);
            modules.computeIfAbsent(module, k -> new ArrayList<>()).add(l);
            return l;
        }

        /** One half of the final adaLN; loraRow is where its rows sit in diffusers' norm_out.linear (scale, shift). */
        Linear half(String module, String which, long loraRow) {
            String p = module + "." + which;
            Linear l = new Linear(module, p + ".weight", p + ".bias", tensor(p + ".weight"), tensor(p + ".bias"),
                    loraRow);
            modules.computeIfAbsent(module, k -> new ArrayList<>()).add(l);
            return l;
        }

        DoubleBlock.Stream stream(String d, String mod, String q, String k, String v, String normQ, String normK,
                                  String proj, String ff) {
            return new DoubleBlock.Stream(linear(d + mod), linear(d + q), linear(d + k), linear(d + v),
                    tensor(d + normQ + ".weight"), d + normQ + ".weight", tensor(d + normK + ".weight"),
                    d + normK + ".weight", linear(d + proj), linear(d + ff + ".net.0.proj"), linear(d + ff + ".net.2"));
        }
    }

    public FluxConfig config() {
        return config;
    }

    /** The backend the model computes on (callers upload inputs there). */
    public Backend backend() {
        return be;
    }

    /**
     * Bytes of the buffers that a checkpointed forward of {@code b} images holds for lTxt + lImg tokens with the MLP
     * activations in {@code mlpActivations} ({@link #setMlpActivations}): the inputs, every block's input, one double and
     * one single block's saved activations, the GELU and the final layer's buffers (the sizes that Workspace,
     * DoubleBlock.Acts, SingleBlock.Acts and FinalLayer.input allocate). Buffers whose size does not grow with the token
     * count (modulation vectors, embedders) are left out: a few per cent at 32 tokens, less beyond (FluxModelTest counts
     * the real allocations).
     */
    public static long inferenceBytes(FluxConfig c, long b, long lTxt, long lImg, DType mlpActivations) {
        return workspaceBytes(c, b, lTxt, lImg, true, 0, false, mlpActivations);
    }

    /**
     * Bytes a forward and a backward hold, as {@link #inferenceBytes} counts them, with every block's activations kept
     * unless {@code checkpointing}, the probabilities of {@code attentionMaps} recorded double blocks ([B, heads, L, L]
     * each, and one more of that size for their gradient) and the backward's scratch. The gradients themselves (the
     * LoRA's, or every parameter's) are the caller's to add, as is the f32 pre-activation scratch that a LoRA on an
     * MLP's first Linear needs with BF16 MLP activations.
     */
    public static long trainingBytes(FluxConfig c, long b, long lTxt, long lImg, boolean checkpointing,
                                     int attentionMaps, DType mlpActivations) {
        return workspaceBytes(c, b, lTxt, lImg, checkpointing, attentionMaps, true, mlpActivations);
    }

    private static long workspaceBytes(FluxConfig c, long b, long lTxt, long lImg, boolean checkpointing,
                                       int attentionMaps, boolean backward, DType mlpActivations) {
        long h = c.hiddenSize();
        long m = c.mlpHidden();
        long heads = c.numHeads();
        long l = lTxt + lImg;
        long nd = c.depth();
        long ns = c.depthSingleBlocks();
        long floats = lImg * c.inChannels() + lTxt * c.contextInDim() + (nd + 1) * l * h;
        // the MLP activations, counted apart because they may be BF16
        long mlp = 0;
        if (nd > 0) {
            // both streams' StreamActs (mean, rstd twice; eleven [t, h]; rq, rk; h1, g) and the joint q, k, v, o, lse
            floats += (checkpointing ? 1 : nd) * (l * (4 + 2 * heads + 11 * h) + l * (4 * h + heads));
            mlp += (checkpointing ? 1 : nd) * l * 2 * m;
        }
        if (ns > 0) {
            // every block's input; per block mean, rstd, six [L, h], rq, rk, the four joint tensors and lse; mlp and
            // cat [L, h + mlp]; the shared GELU
            floats += (ns + 1) * l * h + (checkpointing ? 1 : ns) * l * (2 + 3 * heads + 10 * h);
            mlp += (checkpointing ? 1 : ns) * l * (h + 2 * m) + l * m;
        }
        floats += lImg * (5 * h + 2 + c.outChannels());
        floats += attentionMaps * heads * l * l;
        if (backward) {
            // DoubleBlock.Scratch: both streams' five [t, h] and two [t, mlp], the joint six [L, h]; dS for the maps
            floats += nd > 0 ? l * (11 * h + 2 * m) + (attentionMaps > 0 ? heads * l * l : 0) : 0;
            // SingleBlock.Scratch: dcat, two [L, mlp], five [L, h] and the six attention gradients
            floats += ns > 0 ? l * (12 * h + 3 * m) : 0;
            // dImg, dTxt, dX, the zero output gradient
            floats += l * h + (ns > 0 ? l * h : 0) + lImg * c.outChannels();
        }
        return b * (4 * floats + mlpActivations.byteSize() * mlp);
    }

    /**
     * The dtype the MLP activations are kept in: F32 (the default and the reference) or BF16. BF16 holds the double
     * blocks' MLP hidden before and after the GELU, the single blocks' MLP pre-activation and their linear2 input
     * [attention | GELU] in half the memory; the first MLP Linear then writes both through one {@link Backend#linear}
     * (bias and GELU in its epilogue) and the second Linear and the GELU backward read them in BF16. Residual streams,
     * norm statistics, q, k, v, the attention and every gradient stay F32. A GPU memory and speed mode: the CPU backends
     * run it through widened copies, slower than F32.
     */
    public void setMlpActivations(DType dtype) {
        if (dtype != DType.F32 && dtype != DType.BF16) {
            throw new IllegalArgumentException("MLP activations are F32 or BF16, not " + dtype);
        }
        if (dtype != mlpActivations) {
            mlpActivations = dtype;
            invalidate();
        }
    }

    public DType mlpActivations() {
        return mlpActivations;
    }

    /** Per-block activation recomputation: less memory, one extra block forward per block in the backward. */
    public void setCheckpointing(boolean on) {
        if (on != checkpointing) {
            checkpointing = on;
            invalidate();
        }
    }

    // ---- LoRA -------------------------------------------------------------------------------------------------------

    /**
     * Attaches LoRAs (replacing any attached before): each module's y += multiplier·(alpha/rank)·(x·Aᵀ)·Bᵀ on the
     * Linear named by its diffusers module path. A and B are used by reference, so updates to them take effect in the
     * next forward.
     */
    public void setLora(Collection<LoraModule> modules, float multiplier) {
        for (LoraModule m : modules) {
            List<Linear> targets = byModule.get(m.module());
            if (targets == null) {
                throw new IllegalArgumentException("LoRA " + describe(m) + ": no Linear module " + m.module()
                        + " in this FLUX model");
            }
            long rank = m.a().dim(0);
            long in = targets.get(0).in();
            long out = targets.stream().mapToLong(Linear::out).sum();
            if (m.a().rank() != 2 || m.a().dim(1) != in || m.a().dtype() != DType.F32) {
                throw new IllegalArgumentException("LoRA " + name(m.keyA(), m.module() + ".lora_A")
                        + ": expected [" + rank + ", " + in + "] F32, got " + Arrays.toString(m.a().shape()) + " "
                        + m.a().dtype());
            }
            if (m.b().rank() != 2 || m.b().dim(0) != out || m.b().dim(1) != rank || m.b().dtype() != DType.F32) {
                throw new IllegalArgumentException("LoRA " + name(m.keyB(), m.module() + ".lora_B")
                        + ": expected [" + out + ", " + rank + "] F32, got " + Arrays.toString(m.b().shape()) + " "
                        + m.b().dtype());
            }
        }
        for (List<Linear> ls : byModule.values()) {
            for (Linear l : ls) {
                l.setLora(null);
            }
        }
        loras.clear();
        loraCopies.free();
        for (LoraModule m : modules) {
            float scale = multiplier * m.alpha() / m.a().dim(0);
            Tensor a = onDevice(m.a());
            Tensor b = onDevice(m.b());
            for (Linear l : byModule.get(m.module())) {
                l.setLora(new Linear.Lora(a, b.sliceRows(l.loraRow, l.out()), scale));
            }
            loras.put(m.module(), m);
        }
        invalidate();
    }

    private static String describe(LoraModule m) {
        return name(m.keyA(), m.module());
    }

    private static String name(String key, String fallback) {
        return key != null ? key : fallback;
    }

    private Tensor onDevice(Tensor t) {
        return t.device() == be.device() ? t : loraCopies.upload(t);
    }

    /** The attached LoRA modules by diffusers module path. */
    public Map<String, LoraModule> lora() {
        return Collections.unmodifiableMap(loras);
    }

    // ---- workspace --------------------------------------------------------------------------------------------------

    /** Activations and scratch for one (batch, text tokens, image tokens) shape. */
    private final class Workspace {
        final long b;
        final long lTxt;
        final long lImg;
        final Tensor img;
        final Tensor txt;
        final Tensor[] imgs;
        final Tensor[] txts;
        final Tensor[] xs;
        final DoubleBlock.Acts[] dActs;
        final SingleBlock.Acts[] sActs;
        final Tensor gelu;
        final Tensor finalIn;
        final Tensor[] probs;
        final Set<Integer> recorded = new HashSet<>();
        /** Everything below but finalIn, which the final layer owns. */
        final Buffers buf = new Buffers(be);
        DoubleBlock.Scratch dScratch;
        SingleBlock.Scratch sScratch;
        Tensor dImg;
        Tensor dTxt;
        Tensor dX;
        Tensor dsvec;
        Tensor zeroOut;
        /** Which block's activations the shared checkpointing acts hold (−1: none). */
        int dOwner = -1;
        int sOwner = -1;

        Workspace(long b, long lTxt, long lImg) {
            this.b = b;
            this.lTxt = lTxt;
            this.lImg = lImg;
            long h = config.hiddenSize();
            long l = lTxt + lImg;
            img = buf.f32(b, lImg, config.inChannels());
            txt = buf.f32(b, lTxt, config.contextInDim());
            imgs = new Tensor[doubles.length + 1];
            txts = new Tensor[doubles.length + 1];
            for (int i = 0; i <= doubles.length; i++) {
                imgs[i] = buf.f32(b, lImg, h);
                txts[i] = buf.f32(b, lTxt, h);
            }
            xs = new Tensor[singles.length + 1];
            for (int i = 0; i < xs.length && singles.length > 0; i++) {
                xs[i] = buf.f32(b, l, h);
            }
            dActs = new DoubleBlock.Acts[checkpointing ? Math.min(1, doubles.length) : doubles.length];
            for (int i = 0; i < dActs.length; i++) {
                dActs[i] = new DoubleBlock.Acts(buf, config, b, lTxt, lImg, mlpActivations);
            }
            sActs = new SingleBlock.Acts[checkpointing ? Math.min(1, singles.length) : singles.length];
            for (int i = 0; i < sActs.length; i++) {
                sActs[i] = new SingleBlock.Acts(buf, config, b, l, mlpActivations);
            }
            gelu = singles.length > 0 ? buf.of(mlpActivations, b, l, config.mlpHidden()) : null;
            probs = new Tensor[doubles.length];
            finalIn = finalLayer.input(be, b, lImg);
        }

        DoubleBlock.Acts dActs(int i) {
            return dActs[checkpointing ? 0 : i];
        }

        SingleBlock.Acts sActs(int i) {
            return sActs[checkpointing ? 0 : i];
        }

        Tensor probs(int i) {
            if (probs[i] == null) {
                probs[i] = buf.f32(b, config.numHeads(), lTxt + lImg, lTxt + lImg);
            }
            return probs[i];
        }

        void ensureBackward() {
            if (dImg == null) {
                long h = config.hiddenSize();
                dScratch = doubles.length > 0 ? new DoubleBlock.Scratch(buf, config, b, lTxt, lImg) : null;
                sScratch = singles.length > 0 ? new SingleBlock.Scratch(buf, config, b, lTxt + lImg) : null;
                dImg = buf.f32(b, lImg, h);
                dTxt = buf.f32(b, lTxt, h);
                dX = singles.length > 0 ? buf.f32(b, lTxt + lImg, h) : null;
                dsvec = buf.f32(b, h);
                zeroOut = buf.f32(b, lImg, config.outChannels());
            }
        }
    }

    private void invalidate() {
        if (ws != null) {
            ws.buf.free();
        }
        ws = null;
        last = null;
    }

    // ---- forward ----------------------------------------------------------------------------------------------------

    /**
     * The model output [B, L_img, out_channels] (a workspace tensor, valid until the next forward). With
     * recordAttention, every double block's joint attention probabilities are kept ({@link #attentionProbs}).
     */
    public Tensor forward(FluxInputs in, boolean recordAttention) {
        List<Integer> all = new ArrayList<>();
        for (int i = 0; recordAttention && i < doubles.length; i++) {
            all.add(i);
        }
        return forward(in, all);
    }

    /**
     * The model output, keeping the joint attention probabilities [B, heads, L, L] of the listed double blocks (what
     * attention losses read, and what {@link #backward(Tensor, Map, FluxGradients)} takes gradients for).
     */
    public Tensor forward(FluxInputs in, Collection<Integer> attentionBlocks) {
        in.check(config);
        for (int i : attentionBlocks) {
            if (i < 0 || i >= doubles.length) {
                throw new IllegalArgumentException("attention of double block " + i + " requested; the model has "
                        + doubles.length);
            }
        }
        long b = in.batch();
        long lTxt = in.txtTokens();
        long lImg = in.imgTokens();
        if (ws == null || ws.b != b || ws.lTxt != lTxt || ws.lImg != lImg) {
            invalidate();
            ws = new Workspace(b, lTxt, lImg);
        }
        last = null;
        be.copy(in.img(), ws.img);
        be.copy(in.txt(), ws.txt);
        xEmbedder.forward(be, ws.img, ws.imgs[0]);
        contextEmbedder.forward(be, ws.txt, ws.txts[0]);
        embedders.forward(be, in.timesteps(), in.guidance(), in.y());
        Tensor svec = embedders.svec();
        double[][] ids = in.jointIds();
        // every forward of a sampling run or a training step has the same positions; building the tables anew each
        // time would also leave a device backend holding every earlier pair
        if (rope == null || !rope.isFor(ids)) {
            if (rope != null) {
                rope.free(be);
            }
            rope = Rope.build(be, config, ids);
        }
        ws.recorded.clear();
        for (int i = 0; i < doubles.length; i++) {
            Tensor probs = attentionBlocks.contains(i) ? ws.probs(i) : null;
            doubles[i].forward(be, ws.imgs[i], ws.txts[i], svec, rope, ws.dActs(i), ws.imgs[i + 1], ws.txts[i + 1],
                    probs, attnScale);
            if (probs != null) {
                ws.recorded.add(i);
            }
        }
        ws.dOwner = doubles.length - 1;
        Tensor img = ws.imgs[doubles.length];
        Tensor txt = ws.txts[doubles.length];
        if (singles.length > 0) {
            Copies.tokens(be, txt, 0, ws.xs[0], 0, lTxt, false);
            Copies.tokens(be, img, 0, ws.xs[0], lTxt, lImg, false);
            for (int i = 0; i < singles.length; i++) {
                singles[i].forward(be, ws.xs[i], svec, rope, ws.sActs(i), ws.gelu, ws.xs[i + 1], null, attnScale);
            }
            ws.sOwner = singles.length - 1;
            Copies.tokens(be, ws.xs[singles.length], lTxt, ws.finalIn, 0, lImg, false);
        } else {
            be.copy(img, ws.finalIn);
        }
        Tensor out = finalLayer.forward(be, svec);
        last = in;
        return out;
    }

    /** Joint attention probabilities [B, heads, L, L] (text first) of double block i from the last forward. */
    public Tensor attentionProbs(int i) {
        if (last == null || !ws.recorded.contains(i)) {
            throw new IllegalStateException("the last forward did not record the attention of double block " + i);
        }
        return ws.probs[i];
    }

    /**
     * Activations of the last forward by BFL debugging name: timestep_sincos, guidance_sincos, time_in.out,
     * guidance_in.out, vector_in.out, vec, img_in.out, txt_in.out, double_blocks.N.img / .txt (block outputs),
     * single_blocks.N.out, final_layer.in. Workspace tensors, valid until the next forward.
     */
    public Map<String, Tensor> intermediates() {
        if (last == null) {
            throw new IllegalStateException("no forward has run");
        }
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("timestep_sincos", embedders.time().x);
        m.put("time_in.out", embedders.time().out);
        if (embedders.guidance() != null) {
            m.put("guidance_sincos", embedders.guidance().x);
            m.put("guidance_in.out", embedders.guidance().out);
        }
        m.put("vector_in.out", embedders.vector().out);
        m.put("vec", embedders.vec());
        m.put("img_in.out", ws.imgs[0]);
        m.put("txt_in.out", ws.txts[0]);
        for (int i = 0; i < doubles.length; i++) {
            m.put("double_blocks." + i + ".img", ws.imgs[i + 1]);
            m.put("double_blocks." + i + ".txt", ws.txts[i + 1]);
        }
        for (int i = 0; i < singles.length; i++) {
            m.put("single_blocks." + i + ".out", ws.xs[i + 1]);
        }
        m.put("final_layer.in", ws.finalIn);
        return m;
    }

    // ---- backward ---------------------------------------------------------------------------------------------------

    /**
     * Gradient accumulators for this model, zeroed: every base parameter when {@code params} (else the frozen-base
     * mode: none), every attached LoRA's A and B, and the inputs img, txt, y of the last forward's shape when
     * {@code inputs}.
     */
    public FluxGradients newGradients(boolean params, boolean inputs) {
        Map<String, Tensor> p = new LinkedHashMap<>();
        if (params) {
            for (Param param : paramsByName.values()) {
                p.put(param.name(), be.allocate(DType.F32, param.shape()));
            }
        }
        Map<String, Tensor> la = new LinkedHashMap<>();
        Map<String, Tensor> lb = new LinkedHashMap<>();
        for (LoraModule m : loras.values()) {
            la.put(m.module(), be.allocate(DType.F32, m.a().shape()));
            lb.put(m.module(), be.allocate(DType.F32, m.b().shape()));
        }
        Tensor gi = null;
        Tensor gt = null;
        Tensor gy = null;
        if (inputs) {
            if (last == null) {
                throw new IllegalStateException("input gradients are sized by the last forward; run a forward first");
            }
            gi = be.allocate(DType.F32, last.img().shape());
            gt = be.allocate(DType.F32, last.txt().shape());
            gy = be.allocate(DType.F32, last.y().shape());
        }
        return new FluxGradients(p, la, lb, gi, gt, gy);
    }

    /**
     * Adds the gradients of a scalar loss L into {@code g}, given dL/d out [B, L_img, out_channels] of the last
     * forward. Only what {@code g} holds is computed: without base-parameter and input gradients the backward stops
     * below the lowest block that carries a LoRA and skips the conditioning-vector branch unless a LoRA sits on it.
     */
    public void backward(Tensor gradOut, FluxGradients g) {
        backward(gradOut, Map.of(), g);
    }

    /**
     * As {@link #backward(Tensor, FluxGradients)} for a loss that also reads attention probabilities: gradProbs maps a
     * double block to dL/d(its probabilities) [B, heads, L, L], for blocks whose attention the last forward recorded.
     * gradOut may be null when the loss does not read the output.
     */
    public void backward(Tensor gradOut, Map<Integer, Tensor> gradProbs, FluxGradients g) {
        if (last == null) {
            throw new IllegalStateException("backward needs a forward first (and none since the LoRA or checkpointing"
                    + " changed)");
        }
        long[] outShape = {ws.b, ws.lImg, config.outChannels()};
        long l = ws.lTxt + ws.lImg;
        long[] probShape = {ws.b, config.numHeads(), l, l};
        for (Map.Entry<Integer, Tensor> e : gradProbs.entrySet()) {
            if (!ws.recorded.contains(e.getKey())) {
                throw new IllegalArgumentException("gradient for the attention of double block " + e.getKey()
                        + ", which the last forward did not record");
            }
            if (!Arrays.equals(e.getValue().shape(), probShape)) {
                throw new IllegalArgumentException("attention gradient of double block " + e.getKey() + ": expected "
                        + Arrays.toString(probShape) + ", got " + Arrays.toString(e.getValue().shape()));
            }
        }
        ws.ensureBackward();
        if (gradOut == null) {
            gradOut = ws.zeroOut;
        } else if (!Arrays.equals(gradOut.shape(), outShape)) {
            throw new IllegalArgumentException("grad_output: expected " + Arrays.toString(outShape) + ", got "
                    + Arrays.toString(gradOut.shape()));
        }
        if (g.hasInputs() && !Arrays.equals(g.img().shape(), last.img().shape())) {
            throw new IllegalArgumentException("input gradients were sized for " + Arrays.toString(g.img().shape())
                    + ", the last forward had img " + Arrays.toString(last.img().shape()));
        }
        boolean everything = g.hasParams() || g.hasInputs()
                || hasLora(xEmbedder) || hasLora(contextEmbedder);
        int lowest = everything ? 0 : lowestLoraBlock();
        boolean needVec = g.hasParams() || g.hasInputs() || loraOnVecPath();
        Tensor dsvec = needVec ? ws.dsvec : null;
        if (dsvec != null) {
            be.fill(dsvec, 0f);
        }
        Tensor svec = embedders.svec();
        int nd = doubles.length;
        int ns = singles.length;
        Tensor dImg = ws.dImg;
        Tensor dTxt = ws.dTxt;
        be.fill(dImg, 0f);
        be.fill(dTxt, 0f);
        if (ns > 0) {
            Tensor dFinal = dImg;
            finalLayer.backward(be, gradOut, svec, dFinal, dsvec, g);
            be.fill(ws.dX, 0f);
            Copies.tokens(be, dFinal, 0, ws.dX, ws.lTxt, ws.lImg, false);
            for (int i = ns - 1; i >= 0 && nd + i >= lowest; i--) {
                SingleBlock.Acts a = ws.sActs(i);
                if (checkpointing && ws.sOwner != i) {
                    singles[i].forward(be, ws.xs[i], svec, rope, a, ws.gelu, ws.xs[i + 1], null, attnScale);
                    ws.sOwner = i;
                }
                singles[i].backward(be, ws.xs[i], svec, rope, a, ws.sScratch, ws.dX, dsvec, g, attnScale);
            }
            if (lowest < nd) {
                Copies.tokens(be, ws.dX, 0, dTxt, 0, ws.lTxt, false);
                Copies.tokens(be, ws.dX, ws.lTxt, dImg, 0, ws.lImg, false);
            }
        } else {
            finalLayer.backward(be, gradOut, svec, dImg, dsvec, g);
        }
        for (int i = nd - 1; i >= lowest; i--) {
            DoubleBlock.Acts a = ws.dActs(i);
            if (checkpointing && ws.dOwner != i) {
                doubles[i].forward(be, ws.imgs[i], ws.txts[i], svec, rope, a, ws.imgs[i + 1], ws.txts[i + 1], null,
                        attnScale);
                ws.dOwner = i;
            }
            doubles[i].backward(be, ws.imgs[i], ws.txts[i], svec, rope, a, ws.dScratch, dImg, dTxt, dsvec,
                    ws.probs[i], gradProbs.get(i), g, attnScale);
        }
        if (everything) {
            xEmbedder.backward(be, dImg, ws.img, g.img(), g);
            contextEmbedder.backward(be, dTxt, ws.txt, g.txt(), g);
        }
        if (needVec) {
            embedders.backward(be, dsvec, g.y(), g);
        }
    }

    private static boolean hasLora(Linear l) {
        return l.lora() != null;
    }

    /** Position (doubles first, then singles) of the lowest block carrying a LoRA; one past the last when none does. */
    private int lowestLoraBlock() {
        for (int i = 0; i < doubles.length; i++) {
            for (DoubleBlock.Stream s : new DoubleBlock.Stream[]{doubles[i].img, doubles[i].txt}) {
                if (Arrays.stream(s.linears()).anyMatch(FluxModel::hasLora)) {
                    return i;
                }
            }
        }
        for (int i = 0; i < singles.length; i++) {
            if (Arrays.stream(singles[i].linears()).anyMatch(FluxModel::hasLora)) {
                return doubles.length + i;
            }
        }
        return doubles.length + singles.length;
    }

    /** Whether a LoRA sits on the embedder MLPs, a modulation Linear or the final adaLN. */
    private boolean loraOnVecPath() {
        List<Linear> vecPath = new ArrayList<>();
        for (Embedders.Mlp m : new Embedders.Mlp[]{embedders.time(), embedders.guidance(), embedders.vector()}) {
            if (m != null) {
                vecPath.add(m.l1);
                vecPath.add(m.l2);
            }
        }
        for (DoubleBlock d : doubles) {
            vecPath.add(d.img.mod());
            vecPath.add(d.txt.mod());
        }
        for (SingleBlock s : singles) {
            vecPath.add(s.mod);
        }
        vecPath.add(finalLayer.shift);
        vecPath.add(finalLayer.scale);
        return vecPath.stream().anyMatch(FluxModel::hasLora);
    }
}
