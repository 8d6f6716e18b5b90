package dev.fluxerase.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxerase.json.ConfigJson;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * diffusers' {@code FlowMatchEulerDiscreteScheduler} as {@code FluxPipeline} drives it (FLUX.md §4.1), from a
 * {@code scheduler_config.json}. The pipeline hands it {@code sigmas = linspace(1, 1/n, n)} (numpy, float64) and
 * {@code mu = calculate_shift(L, base_image_seq_len, max_image_seq_len, base_shift, max_shift)} for L packed image
 * tokens; the scheduler rounds the sigmas to float32 and shifts them in numpy float32, where the Python float
 * {@code e^mu} is rounded to float32 before it meets the array: {@code e / (e + (1/σ − 1))}. Without dynamic
 * shifting it applies the static {@code shift·σ / (1 + (shift − 1)·σ)} instead. A terminal 0 is appended, and the
 * timesteps are {@code σ·num_train_timesteps} in float32. Every operation below is the float32 operation numpy does,
 * so the values are diffusers' bit for bit; they agree with
 * {@code sampling.FluxSchedule#sigmas} (BFL's grid, in double) to float32 rounding.
 */
public record FlowMatchScheduler(int numTrainTimesteps, double shift, boolean useDynamicShifting, double baseShift,
                                 double maxShift, long baseImageSeqLen, long maxImageSeqLen, boolean exponential) {

    /** FLUX.1-dev's scheduler_config.json (the values a BFL single-file setup without one gets). */
    public static final FlowMatchScheduler FLUX_DEV = new FlowMatchScheduler(1000, 3.0, true, 0.5, 1.15, 256, 4096, true);

    /**
     * For schnell without a scheduler_config.json: the unshifted grid, as BFL samples schnell
     * ({@code get_schedule(..., shift=False)}).
     */
    public static final FlowMatchScheduler FLUX_SCHNELL =
            new FlowMatchScheduler(1000, 1.0, false, 0.5, 1.15, 256, 4096, true);

    /** Options of the diffusers scheduler that change the sigmas and that this port does not implement. */
    private static final List<String> UNSUPPORTED = List.of("use_karras_sigmas", "use_exponential_sigmas",
            "use_beta_sigmas", "invert_sigmas", "stochastic_sampling", "shift_terminal");

    /** Reads a diffusers scheduler_config.json; missing keys take diffusers' defaults. */
    public static FlowMatchScheduler read(Path file) {
        JsonNode n;
        try {
            n = new ObjectMapper().readTree(Files.readAllBytes(file));
        } catch (JsonProcessingException e) {
            throw new PipelineException(file + ": scheduler config is not valid JSON: "
                    + String.valueOf(e.getOriginalMessage()).replace('\n', ' '), e);
        } catch (IOException e) {
            throw new PipelineException(file + ": cannot read scheduler config: " + e.getMessage(), e);
        }
        if (n == null || !n.isObject()) {
            throw new PipelineException(file + ": scheduler config is not a JSON object");
        }
        String cls = n.path("_class_name").asText("FlowMatchEulerDiscreteScheduler");
        if (!cls.equals("FlowMatchEulerDiscreteScheduler")) {
            throw new PipelineException(file + ": scheduler " + ConfigJson.printable(cls) + " is not supported "
                    + "(expected FlowMatchEulerDiscreteScheduler)");
        }
        for (String key : UNSUPPORTED) {
            JsonNode v = n.get(key);
            if (v != null && !v.isNull() && !(v.isBoolean() && !v.asBoolean())) {
                throw new PipelineException(file + ": \"" + key + "\": " + v + " is not supported");
            }
        }
        String type = n.path("time_shift_type").asText("exponential");
        if (!type.equals("exponential") && !type.equals("linear")) {
            throw new PipelineException(file + ": \"time_shift_type\": \"" + ConfigJson.printable(type)
                    + "\" is not supported (exponential"
                    + " or linear)");
        }
        FlowMatchScheduler s = new FlowMatchScheduler(n.path("num_train_timesteps").asInt(1000),
                n.path("shift").asDouble(1.0), n.path("use_dynamic_shifting").asBoolean(false),
                n.path("base_shift").asDouble(0.5), n.path("max_shift").asDouble(1.15),
                n.path("base_image_seq_len").asLong(256), n.path("max_image_seq_len").asLong(4096),
                type.equals("exponential"));
        if (s.numTrainTimesteps <= 0 || s.maxImageSeqLen == s.baseImageSeqLen) {
            throw new PipelineException(file + ": num_train_timesteps must be positive and max_image_seq_len differ from"
                    + " base_image_seq_len");
        }
        return s;
    }

    /** diffusers' {@code calculate_shift}: the line through (base_seq, base_shift) and (max_seq, max_shift) at L. */
    public double mu(long imageSeqLen) {
        double m = (maxShift - baseShift) / (maxImageSeqLen - baseImageSeqLen);
        double b = baseShift - m * baseImageSeqLen;
        return imageSeqLen * m + b;
    }

    /** The n + 1 sigmas (ending in 0) for n steps over L packed image tokens, as diffusers' float32 values. */
    public float[] sigmas(int steps, long imageSeqLen) {
        if (steps < 1) {
            throw new PipelineException("steps must be at least 1, got " + steps);
        }
        float[] s = new float[steps + 1];
        double step = steps == 1 ? 0 : (1.0 / steps - 1.0) / (steps - 1);
        for (int k = 0; k < steps; k++) {
            // numpy.linspace(1, 1/n, n): k·step + start, the endpoint stored exactly.
            s[k] = (float) (k == steps - 1 ? 1.0 / steps : k * step + 1.0);
        }
        if (useDynamicShifting) {
            double mu = mu(imageSeqLen);
            float e = (float) (exponential ? Math.exp(mu) : mu);
            for (int k = 0; k < steps; k++) {
                s[k] = e / (e + (1f / s[k] - 1f));
            }
        } else {
            for (int k = 0; k < steps; k++) {
                s[k] = staticShift(s[k]);
            }
        }
        s[steps] = 0f;
        return s;
    }

    /**
     * The table the scheduler's constructor builds before any {@code set_timesteps}: N = num_train_timesteps float32
     * sigmas (N − i)/N for i = 0..N−1, from 1 down to 1/N, with no terminal 0; shifted statically only without dynamic
     * shifting (FLUX.1-dev shifts dynamically, so its table is the plain linear one). Sampling with this table instead
     * of {@link #sigmas} is what EraseAnything's released code ends up doing (docs/erase.md).
     */
    public float[] trainSigmas() {
        float[] s = new float[numTrainTimesteps];
        for (int i = 0; i < s.length; i++) {
            s[i] = (float) (numTrainTimesteps - i) / numTrainTimesteps;
            if (!useDynamicShifting) {
                s[i] = staticShift(s[i]);
            }
        }
        return s;
    }

    /** shift·σ / (1 + (shift − 1)·σ) with the Python float shift and shift − 1 rounded to float32, as numpy does. */
    private float staticShift(float sigma) {
        return (float) shift * sigma / (1f + (float) (shift - 1) * sigma);
    }

    /** The scheduler's timesteps σ_k·num_train_timesteps (float32), k &lt; n. */
    public float[] timesteps(float[] sigmas) {
        float[] t = new float[sigmas.length - 1];
        for (int k = 0; k < t.length; k++) {
            t[k] = sigmas[k] * numTrainTimesteps;
        }
        return t;
    }

    /**
     * The σ the transformer is given at step k: the pipeline passes timestep/1000, which the model multiplies by 1000
     * again, so the value whose sinusoid is taken is exactly the float32 timestep.
     */
    public double modelSigma(float timestep) {
        return timestep / (double) numTrainTimesteps;
    }
}
