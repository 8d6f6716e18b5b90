package dev.fluxerase.tensor;

/**
 * Where the taps of a {@link Backend#conv2d} read: output pixel (oy, ox), tap (ky, kx) reads the virtual input row
 * vy = oy·stride + ky − padBefore (columns alike) of the input upsampled ×upsample (nearest neighbour, never
 * materialised: virtual row vy is input row vy / upsample); taps outside [0, upsample·H) read zero. The output size is
 * OH = ⌊(upsample·H + padBefore + padAfter − kh) / stride⌋ + 1, OW alike. Padding is the same on rows and columns, since
 * every conv of the VAE pads both alike.
 *
 * @param stride    1 or more
 * @param padBefore zero rows (columns) before the first input row (column), 0 or more
 * @param padAfter  zero rows (columns) after the last, 0 or more
 * @param upsample  1, or 2 for a nearest-neighbour ×2 upsample in front of the conv
 */
public record ConvGeometry(int stride, int padBefore, int padAfter, int upsample) {
    /** A 1×1 conv: a per-pixel linear map. */
    public static final ConvGeometry POINTWISE = new ConvGeometry(1, 0, 0, 1);
    /** A 3×3 conv keeping the size. */
    public static final ConvGeometry SAME = new ConvGeometry(1, 1, 1, 1);
    /** diffusers Downsample2D (and BFL's Downsample): pad right and bottom by 1, stride 2, no other padding. */
    public static final ConvGeometry DOWN = new ConvGeometry(2, 0, 1, 1);
    /** diffusers Upsample2D (and BFL's Upsample): nearest ×2, then a 3×3 SAME conv. */
    public static final ConvGeometry UP = new ConvGeometry(1, 1, 1, 2);

    public ConvGeometry {
        if (stride < 1 || padBefore < 0 || padAfter < 0 || (upsample != 1 && upsample != 2)) {
            throw new IllegalArgumentException("conv geometry: stride " + stride + " (≥ 1), padding " + padBefore + "/"
                    + padAfter + " (≥ 0), upsample " + upsample + " (1 or 2)");
        }
    }

    /**
     * The output extent along one axis for an input extent {@code in} and a kernel extent {@code k}; 0 or less when the
     * kernel does not fit the padded input even once.
     */
    public long outSize(long in, int k) {
        return Math.floorDiv(upsample * in + padBefore + padAfter - k, stride) + 1;
    }

    /** "stride 2, padding 0/1, upsample 1": the geometry in a message. */
    @Override
    public String toString() {
        return "stride " + stride + ", padding " + padBefore + "/" + padAfter + ", upsample " + upsample;
    }
}
