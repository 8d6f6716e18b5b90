package dev.fluxerase.tensor;

/** Element types that appear in safetensors files and in our tensors. Names are the safetensors header names. */
public enum DType {
    F64(8), F32(4), F16(2), BF16(2), F8_E4M3(1), I64(8), I32(4), U8(1);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    public int byteSize() {
        return byteSize;
    }

    public boolean isFloat() {
        return this == F64 || this == F32 || this == F16 || this == BF16 || this == F8_E4M3;
    }

    /** The dtype for a safetensors header name, or null when we do not know it (the caller names the file and tensor). */
    public static DType fromName(String name) {
        for (DType d : values()) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        return null;
    }
}
