package dev.fluxerase.tensor;

/** Where a tensor's bytes live. CUDA tensors hold a device address that the host must never dereference. */
public enum Device {
    CPU, CUDA
}
