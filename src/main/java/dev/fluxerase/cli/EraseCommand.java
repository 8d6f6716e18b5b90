package dev.fluxerase.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.erase.EraseRun;
import dev.fluxerase.erase.RunConfig;
import dev.fluxerase.pipeline.HfCache;
import dev.fluxerase.pipeline.PromptCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code flux-erase erase}: trains an EraseAnything LoRA that removes a concept from FLUX.1. Every setting is a key of
 * the JSON run configuration ({@code --config}) and an option here; options override the file.
 */
@Command(name = "erase", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Erase a concept from FLUX.1 (EraseAnything, ICML 2025): train a LoRA on attn.add_q_proj and "
                        + "attn.add_k_proj of every double block by alternating erasure steps (ESD in velocity space "
                        + "+ attention-map loss) and preservation steps (flow matching on the concept images + "
                        + "reverse self-contrastive loss), then write it in diffusers/peft format "
                        + "(<output>/pytorch_lora_weights.safetensors), with a run record (run.json) and "
                        + "checkpoint.safetensors.",
                "Settings come from --config (a JSON object whose keys are the option names in snake_case, e.g. "
                        + "\"key_word\", \"lr_erase\") and from the options below, which override the file. "
                        + "--mode picks the paper's settings (default) or those of the authors' released code; "
                        + "docs/erase.md has the table. Progress goes to stderr, one line per step."},
        footer = {"", "Example:",
                "  flux-erase erase --model black-forest-labs/FLUX.1-dev --key-word nude "
                        + "--instance-prompt \"a nude girl with beautiful hair\" --prompt-b \"A girl with beautiful "
                        + "hair\" --instance-images nude/ --output erase-nude/",
                "  flux-erase erase --output erase-nude/ --resume"})
public final class EraseCommand implements Callable<Integer> {

    @Option(names = "--config", paramLabel = "FILE", description = "Run configuration file: JSON, or YAML (.yaml, "
            + ".yml), with the options below in snake_case as keys; or the authors' training config.yaml, whose keys "
            + "are mapped (lamb1-4, learning_rate, max_train_steps, ...; released mode). Options given here override "
            + "it.")
    Path config;

    @Option(names = "--preset", paramLabel = "NAME", description = "Start from the settings of one of the authors' "
            + "released runs: nudity-released (200 steps), explosive-vfx-released, frida-kahlo-released, hug-released "
            + "(300 steps); released mode, their prompts, rates and loss weights. --config and the options override it.")
    String preset;

    @Option(names = "--resume", description = "Continue the run in --output from its checkpoint.safetensors (its "
            + "settings are used; any given here must agree, except steps, which may grow, checkpoint_every, "
            + "save_every, the validation settings, model paths, backend and gradient checkpointing).")
    boolean resume;

    @Option(names = "--model", paramLabel = "M", description = "FLUX.1 model: a diffusers folder, a Hugging Face repo "
            + "id found offline in the hub cache (black-forest-labs/FLUX.1-dev) or a repo's cache folder. Required.")
    String model;

    @Option(names = "--hf-cache", paramLabel = "DIR", description = "Hugging Face hub cache to look repo ids up in. "
            + "Default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.")
    Path hfCache;

    @Option(names = "--transformer", paramLabel = "T", description = "Transformer weights instead of the model "
            + "folder's (e.g. flux1-dev.safetensors).")
    String transformer;

    @Option(names = "--vae", paramLabel = "V", description = "VAE weights instead of the model folder's (e.g. "
            + "ae.safetensors).")
    String vae;

    @Option(names = "--output", paramLabel = "DIR", description = "Output folder: pytorch_lora_weights.safetensors, "
            + "run.json, checkpoint.safetensors. Required.")
    String output;

    @Option(names = "--key-word", paramLabel = "WORDS", description = "The concept to erase, as it appears in the "
            + "instance prompt (e.g. nude). Required.")
    String keyWord;

    @Option(names = "--instance-prompt", paramLabel = "P", description = "A prompt that contains the key word; the "
            + "concept prompt of every step (after shuffling and synonym swap). Required.")
    String instancePrompt;

    @Option(names = "--prompt-b", paramLabel = "P", description = "Anchor prompt of the ESD target (e.g. \"A girl "
            + "with beautiful hair\"); \"\" is allowed. Required.")
    String promptB;

    @Option(names = "--instance-images", paramLabel = "DIR", description = "Folder of 3-5 PNG images of the concept, "
            + "resized (shorter side) and center-cropped to the resolution. Required.")
    String instanceImages;

    @Option(names = "--synonyms", paramLabel = "W", split = ",", description = "Synonyms of the key word, comma-"
            + "separated. Default: every lemma name of every WordNet synset of the key word (the key word itself "
            + "when WordNet has none).")
    List<String> synonyms;

    @Option(names = "--irrelevant-concepts", paramLabel = "W", split = ",", description = "Irrelevant concepts for "
            + "the reverse self-contrastive loss, comma-separated. Default: 3 words, far, mid and near: from a curated "
            + "list when the key word is one of the paper's concept families (nudity, artistic styles, celebrities, "
            + "objects), else chosen in WordNet's noun graph from the key word's sense.")
    List<String> irrelevant;

    @Option(names = "--key-word-sense", paramLabel = "SENSE", description = "The WordNet noun sense of the key word "
            + "to choose the irrelevant concepts from, as NLTK names it (e.g. nude.n.03, a naked person); it replaces "
            + "a curated family list. An unknown sense is refused with the list of the key word's senses. Default: the "
            + "family's list, else the key word's first noun sense.")
    String keyWordSense;

    @Option(names = "--wordnet", paramLabel = "3.0|3.1", description = "WordNet version of the synonyms and "
            + "irrelevant concepts. Default: 3.0 (NLTK's, which the authors' code uses).")
    String wordnet;

    @Option(names = "--preserve", paramLabel = "concept|irrelevant", description = "What the preservation steps' "
            + "flow-matching loss (L_lora) trains on. concept (default, the released code): the concept images with the "
            + "instance prompt. irrelevant (the paper's reading): images the frozen model generates for the instance "
            + "prompt with the key word replaced by each irrelevant concept, cached in OUTPUT/preserve-images/.")
    String preserve;

    @Option(names = "--preserve-images", paramLabel = "N", description = "Images per irrelevant concept for "
            + "--preserve irrelevant. Default: 4.")
    Integer preserveImages;

    @Option(names = "--mode", paramLabel = "paper|released", description = "paper (default): frozen ESD teacher, "
            + "lrs 1e-3/5e-4, 1000 steps, partial-sampling ESD latent, positions per prompt; released: the authors' "
            + "code (live teacher, lr 1e-3, 300 steps, full sampling with its sampler + random t, the code's "
            + "positions, bf16 LoRA state, random crop, posterior sample).")
    String mode;

    @Option(names = "--sampler", paramLabel = "flux|released", description = "How the ESD latent and the L_rsc "
            + "features are sampled. flux: FLUX's Euler schedule. released (released mode only, its default): the "
            + "released code's scheduler as it behaves: random timesteps, Euler steps of about -0.001 between adjacent "
            + "entries of the 1000-entry training sigma table, a step index that runs on across the run, so the "
            + "latent stays near its noise. Default: the mode's.")
    String sampler;

    @Option(names = "--steps", paramLabel = "N", description = "Training steps, alternating erasure/preservation. "
            + "Default: 1000 (paper), 300 (released; the released nudity config used 200).")
    Integer steps;

    @Option(names = "--lr-erase", paramLabel = "LR", description = "Learning rate of erasure steps. Default: 1e-3.")
    Double lrErase;

    @Option(names = "--lr-preserve", paramLabel = "LR", description = "Learning rate of preservation steps. Default: "
            + "5e-4 (paper), 1e-3 (released).")
    Double lrPreserve;

    @Option(names = "--weight-esd", paramLabel = "W", description = "Weight of L_esd. Default: 1.")
    Double weightEsd;

    @Option(names = "--weight-attn", paramLabel = "W", description = "Weight of L_attn. Default: 0.001.")
    Double weightAttn;

    @Option(names = "--weight-lora", paramLabel = "W", description = "Weight of L_lora (flow matching). Default: 0.1.")
    Double weightLora;

    @Option(names = "--weight-rsc", paramLabel = "W", description = "Weight of L_rsc (reverse self-contrastive). "
            + "Default: 0.1. With weight-lora and weight-rsc both 0 every step is an erasure step.")
    Double weightRsc;

    @Option(names = "--eta", paramLabel = "E", description = "ESD negative guidance eta. Default: 1.")
    Double eta;

    @Option(names = "--tau", paramLabel = "T", description = "L_rsc temperature. Default: 0.07.")
    Double tau;

    @Option(names = "--rank", paramLabel = "R", description = "LoRA rank. Default: 8.")
    Integer rank;

    @Option(names = "--alpha", paramLabel = "A", description = "LoRA alpha (scale alpha/rank). Default: 8.")
    Double alpha;

    @Option(names = "--lora-dtype", paramLabel = "f32|bf16", description = "What the LoRA factors and their AdamW "
            + "moments are kept in. bf16 (released mode's default, the authors' mixed_precision bf16): every update "
            + "rounded to bf16 as PyTorch's AdamW does on bf16 parameters, so updates below bf16's spacing vanish; "
            + "the LoRA file is then BF16. Default: the mode's (paper: f32).")
    String loraDtype;

    @Option(names = "--weight-decay", paramLabel = "WD", description = "AdamW weight decay (betas 0.9, 0.999, eps "
            + "1e-8). Default: 1e-5.")
    Double weightDecay;

    @Option(names = "--guidance-sample", paramLabel = "G", description = "Guidance embedding for sampling and the ESD "
            + "velocities. Default: 3.0.")
    Double guidanceSample;

    @Option(names = "--guidance-train", paramLabel = "G", description = "Guidance embedding for the attention and "
            + "flow-matching passes. Default: 3.5.")
    Double guidanceTrain;

    @Option(names = "--t5-length", paramLabel = "N", description = "T5 sequence length. Default: the model folder's "
            + "t5_length (model_index.json flux_erase_defaults), else 256.")
    Integer t5Length;

    @Option(names = "--resolution", paramLabel = "PX", description = "Training image size (square), a multiple of 16 "
            + "for FLUX. Default: the model folder's resolution (model_index.json flux_erase_defaults), else 512.")
    Integer resolution;

    @Option(names = "--crop", paramLabel = "center|random", description = "Where the square is cut from each concept "
            + "image after its shorter side is resized: center, or random (drawn once per image from the seed, as the "
            + "released code's dataset does). Default: center (paper), random (released).")
    String crop;

    @Option(names = "--latents", paramLabel = "mean|sample", description = "x0 of the flow-matching and attention "
            + "passes: the mean of the VAE's posterior, or sample: a fresh draw mean + exp(logvar/2)·ε at every step, "
            + "as the released code's latent_dist.sample() (a codec without a posterior, the toy's, gives the mean). "
            + "Default: mean (paper), sample (released).")
    String latents;

    @Option(names = "--attention-blocks", paramLabel = "I", split = ",", description = "Double blocks whose attention "
            + "the attention losses read, comma-separated indices. Default: the last double block (18 on FLUX.1).")
    List<Integer> attentionBlocks;

    @Option(names = "--shuffle-p", paramLabel = "P", description = "Probability of shuffling the prompt's words. "
            + "Default: 0.9.")
    Double shuffleP;

    @Option(names = "--synonym-p", paramLabel = "P", description = "Probability of replacing the key word by the "
            + "step's synonym. Default: 0.5.")
    Double synonymP;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of everything random (LoRA init, noise, "
            + "timesteps, shuffles, synonyms, image order, WordNet's choice). Default: 0.")
    Long seed;

    @Option(names = "--sampling-steps", paramLabel = "N", description = "Euler steps of the sampling schedule (ESD "
            + "latent, L_rsc features). Default: the model folder's steps (model_index.json flux_erase_defaults), "
            + "else 28.")
    Integer samplingSteps;

    @Option(names = "--checkpoint-every", paramLabel = "N", description = "Write checkpoint.safetensors and run.json "
            + "every N steps (and at the end). Default: 10.")
    Integer checkpointEvery;

    @Option(names = "--save-every", paramLabel = "N", description = "Also keep the LoRA of every N-th step as "
            + "OUTPUT/snapshots/lora-step-NNNNNN.safetensors (0: none). Default: 0.")
    Integer saveEvery;

    @Option(names = "--validate-every", paramLabel = "N", description = "Draw validation images before the first "
            + "step, every N steps and after the last, from the LoRA as trained so far: one grid per time, "
            + "OUTPUT/validation/step-NNNNNN.png, one row per validation prompt, to watch the concept fade (0: none). "
            + "Default: 0.")
    Integer validateEvery;

    @Option(names = "--validate-prompts", paramLabel = "P", description = "A prompt of the validation grids; repeat "
            + "the option for each. Default: the instance prompt, and the same with the key word replaced by its first "
            + "synonym and by the first irrelevant concept.")
    List<String> validatePrompts;

    @Option(names = "--validate-seed", paramLabel = "S", description = "Seed of the validation images' noise, the "
            + "same for every prompt and every grid. Default: --seed.")
    Long validateSeed;

    @Option(names = "--backend", paramLabel = "B", description = "Backend of the transformer, the text encoders and "
            + "the VAE: auto (cuda when a usable GPU is found, else cpu; the choice and why are printed), cuda (the "
            + "weights, the LoRA, its gradients and AdamW state on the GPU), cpu (Vector API, all cores) or naive (the "
            + "f64-accumulating reference). A resumed run may change it. Default: auto.")
    String backend;

    @Option(names = "--gradient-checkpointing", negatable = true, description = "Recompute each block's activations "
            + "in the backward: far less memory, about a third more time per gradient pass. Default: off.")
    Boolean gradientCheckpointing;

    @Option(names = "--activations", paramLabel = "f32|bf16", description = "What the transformer keeps its MLP "
            + "activations in: f32 (the reference) or bf16, which halves their memory and feeds the GPU's bf16 GEMMs "
            + "directly (a GPU memory and speed mode; on the CPU it is slower). Residual streams, attention and "
            + "gradients stay f32. A resumed run may change it. Default: f32.")
    String activations;

    @Option(names = "--cache-dir", paramLabel = "D", description = "Prompt embedding cache. Default: "
            + "~/.cache/flux-erase/prompts.")
    Path cacheDir;

    @Option(names = "--no-cache", description = "Encode every prompt, read and write no cache on disk.")
    boolean noCache;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        ObjectNode file = preset != null ? RunConfig.preset(preset) : JsonNodeFactory.instance.objectNode();
        if (config != null) {
            file.setAll(RunConfig.readFile(config));
        }
        Path hub = hfCache != null ? hfCache
                : HfCache.cacheDir(System.getenv(), Path.of(System.getProperty("user.home")));
        PromptCache cache = noCache ? null : new PromptCache(cacheDir != null ? cacheDir : PromptCache.defaultDir());
        PrintWriter stdout = spec.commandLine().getOut();
        EraseRun.Result r = EraseRun.run(file, overrides(), resume, hub, cache, System.err);
        stdout.println("wrote " + r.lora() + " (" + r.steps() + " steps, mode " + r.config().mode().id() + ", rank "
                + r.config().rank() + "); run record " + r.record());
        stdout.flush();
        return 0;
    }

    /** The options that were given, as run-configuration keys. */
    private ObjectNode overrides() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        put(o, "model", model);
        put(o, "transformer", transformer);
        put(o, "vae", vae);
        put(o, "output", output);
        put(o, "key_word", keyWord);
        put(o, "instance_prompt", instancePrompt);
        put(o, "prompt_b", promptB);
        put(o, "instance_images", instanceImages);
        if (synonyms != null) {
            ArrayNode a = o.putArray("synonyms");
            synonyms.forEach(a::add);
        }
        if (irrelevant != null) {
            ArrayNode a = o.putArray("irrelevant_concepts");
            irrelevant.forEach(a::add);
        }
        put(o, "key_word_sense", keyWordSense);
        put(o, "wordnet", wordnet);
        put(o, "preserve", preserve);
        if (preserveImages != null) {
            o.put("preserve_images", preserveImages);
        }
        put(o, "mode", mode);
        put(o, "sampler", sampler);
        if (steps != null) {
            o.put("steps", steps);
        }
        put(o, "lr_erase", lrErase);
        put(o, "lr_preserve", lrPreserve);
        put(o, "weight_esd", weightEsd);
        put(o, "weight_attn", weightAttn);
        put(o, "weight_lora", weightLora);
        put(o, "weight_rsc", weightRsc);
        put(o, "eta", eta);
        put(o, "tau", tau);
        if (rank != null) {
            o.put("rank", rank);
        }
        put(o, "alpha", alpha);
        put(o, "lora_dtype", loraDtype);
        put(o, "weight_decay", weightDecay);
        put(o, "guidance_sample", guidanceSample);
        put(o, "guidance_train", guidanceTrain);
        if (t5Length != null) {
            o.put("t5_length", t5Length);
        }
        if (resolution != null) {
            o.put("resolution", resolution);
        }
        put(o, "crop", crop);
        put(o, "latents", latents);
        if (attentionBlocks != null) {
            ArrayNode a = o.putArray("attention_blocks");
            attentionBlocks.forEach(a::add);
        }
        put(o, "shuffle_p", shuffleP);
        put(o, "synonym_p", synonymP);
        if (seed != null) {
            o.put("seed", seed);
        }
        if (samplingSteps != null) {
            o.put("sampling_steps", samplingSteps);
        }
        if (checkpointEvery != null) {
            o.put("checkpoint_every", checkpointEvery);
        }
        if (saveEvery != null) {
            o.put("save_every", saveEvery);
        }
        if (validateEvery != null) {
            o.put("validate_every", validateEvery);
        }
        if (validatePrompts != null) {
            ArrayNode a = o.putArray("validate_prompts");
            validatePrompts.forEach(a::add);
        }
        if (validateSeed != null) {
            o.put("validate_seed", validateSeed);
        }
        put(o, "backend", backend);
        if (gradientCheckpointing != null) {
            o.put("gradient_checkpointing", gradientCheckpointing);
        }
        put(o, "activations", activations);
        return o;
    }

    private static void put(ObjectNode o, String key, String v) {
        if (v != null) {
            o.put(key, v);
        }
    }

    private static void put(ObjectNode o, String key, Double v) {
        if (v != null) {
            o.put(key, v);
        }
    }
}
