package dev.fluxerase.text;

/**
 * One token of an encoded prompt: its vocabulary id and its vocabulary string (for CLIP the BPE symbol such as
 * {@code cat</w>}, for T5 the SentencePiece piece such as {@code ▁cat}; unknown text shows as the unk piece).
 */
public record Token(int id, String text) {
}
