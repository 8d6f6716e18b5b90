package dev.fluxerase.erase;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxerase.io.AtomicFiles;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code run.json}: what a run is (configuration with every default spelled out, what its mode does, its words and
 * images, the LoRA's layout) and what each step did. Rewritten atomically with every checkpoint and at the end.
 */
final class RunRecord {
    static final String FORMAT = "flux-erase-run-1";

    private RunRecord() {
    }

    /**
     * @param backend    the backend this process trains on (config's {@code backend} may say auto, or another
     *                   backend a resumed run left)
     * @param images     "name sha256" of each concept image, as the checkpoint keeps them
     * @param validation the validation grids' settings and prompts; null when the run draws none
     */
    static void write(Path file, boolean finished, int stepsDone, String model, String backend, RunConfig config,
                      Words words, List<String> images, int modules, List<JsonNode> steps, JsonNode validation) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("format", FORMAT);
        o.put("status", finished ? "finished" : "running");
        o.put("steps_done", stepsDone);
        o.put("model", model);
        o.put("backend", backend);
        o.set("config", config.toJson());
        o.set("mode", mode(config));
        o.set("words", words.toJson());
        ArrayNode imgs = o.putArray("images");
        for (String id : images) {
            int sp = id.lastIndexOf(' ');
            imgs.addObject().put("file", id.substring(0, sp)).put("sha256_prepared", id.substring(sp + 1));
        }
        ObjectNode l = o.putObject("lora");
        l.put("file", Trainer.LORA_FILE);
        l.put("format", "diffusers/peft (transformer.<module>.lora_A/lora_B.weight, .alpha), "
                + config.loraDtype().dtype());
        l.put("modules", modules);
        l.put("rank", config.rank());
        l.put("alpha", config.alpha());
        l.put("init", "peft gaussian: A ~ N(0, 1/rank^2), B = 0");
        o.put("optimizer", "AdamW (betas 0.9, 0.999, eps 1e-8, weight decay " + config.weightDecay()
                + "): one state for all steps, learning rate switched per step; LoRA and moments in "
                + (config.loraDtype() == RunConfig.LoraDtype.BF16 ? "bf16, every op rounded as PyTorch's AdamW on bf16"
                + " parameters" : "f32"));
        if (validation != null) {
            o.set("validation", validation);
        }
        o.put("randomness", "step s draws from java.util.Random(SplitMix64(seed, 1, s)); see docs/erase.md");
        ArrayNode st = o.putArray("steps");
        steps.forEach(st::add);
        try {
            AtomicFiles.write(file, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(o));
        } catch (IOException e) {
            throw new EraseException(file + ": cannot write the run record: " + e.getMessage(), e);
        }
    }

    private static ObjectNode mode(RunConfig config) {
        ObjectNode m = JsonNodeFactory.instance.objectNode();
        boolean paper = config.mode() == Mode.PAPER;
        m.put("name", config.mode().id());
        m.put("esd_teacher", paper ? "frozen model (LoRA B held at 0)" : "live LoRA model under stop-gradient");
        m.put("esd_latent", paper ? "t_enc Euler steps of the live model under the concept prompt; velocities at"
                + " sigma(t_enc)" : "full sampling, then an unrelated timestep t (the code's two-stage draw)");
        m.put("positions", paper ? "recomputed for every prompt" : "the released code's, from the instance prompt"
                + " before the synonym swap, reused for every prompt");
        m.put("sampler", config.sampler() == RunConfig.Sampler.FLUX ? "FLUX flow-matching Euler schedule with dynamic"
                + " shift" : "the released code's: random timesteps (1 - sigmoid(n))*N per call, Euler steps between"
                + " adjacent entries of the N-entry training sigma table at a step index that runs on across the run's"
                + " sampling calls, dt about -1/N (N = num_train_timesteps, 1000 on FLUX)");
        return m;
    }
}
