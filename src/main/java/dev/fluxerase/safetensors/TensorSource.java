package dev.fluxerase.safetensors;

import dev.fluxerase.tensor.Tensor;

import java.util.Map;
import java.util.Set;

/**
 * Named tensors of a checkpoint (one safetensors file or a sharded set). Tensors are CPU tensors over the memory-mapped
 * file: nothing is copied, and they stay valid until the source is closed.
 */
public interface TensorSource extends AutoCloseable {

    /** Tensor names in file order (the order of their data in the file; shard by shard for sharded checkpoints). */
    Set<String> names();

    boolean contains(String name);

    /** The header entry of a tensor; a {@link SafetensorsException} naming the file when there is no such tensor. */
    TensorInfo info(String name);

    /** A CPU tensor over the mapped bytes (no copy); a {@link SafetensorsException} when there is no such tensor. */
    Tensor tensor(String name);

    /** The {@code __metadata__} strings (for an index: its {@code metadata} object, values as text). */
    Map<String, String> metadata();

    /** The file or folder this came from, for messages. */
    String describe();

    @Override
    void close();
}
