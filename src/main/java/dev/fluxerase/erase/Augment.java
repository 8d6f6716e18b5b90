package dev.fluxerase.erase;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * EraseAnything's per-sample prompt augmentation (METHOD.md §5, {@code lora_dataset.py}): with probability
 * {@code shuffleP} the prompt's words (split on single spaces, as Python's {@code str.split(" ")}) are shuffled; one
 * synonym is drawn uniformly; with probability {@code synonymP} every occurrence of the key word is replaced by it
 * (a literal, case-sensitive replace, as Python's {@code str.replace}). The synonym is drawn whether or not it replaces,
 * because the reverse self-contrastive loss uses it too.
 *
 * @param shuffled the prompt after shuffling, before the synonym replacement (where the released code finds positions)
 * @param prompt   the prompt the model sees
 * @param synonym  the step's synonym
 * @param swapped  whether the synonym replaced the key word
 */
record Augment(String shuffled, String prompt, String synonym, boolean wasShuffled, boolean swapped) {

    /** Draws, in this order: u (shuffle when u < shuffleP), the shuffle, the synonym index, v (swap when v < synonymP). */
    static Augment draw(String instancePrompt, String keyWord, List<String> synonyms, double shuffleP, double synonymP,
                        Random rng) {
        String shuffled = instancePrompt;
        boolean doShuffle = rng.nextDouble() < shuffleP;
        if (doShuffle) {
            List<String> words = new ArrayList<>(Arrays.asList(instancePrompt.split(" ", -1)));
            Collections.shuffle(words, rng);
            shuffled = String.join(" ", words);
        }
        String synonym = synonyms.get(rng.nextInt(synonyms.size()));
        boolean swap = rng.nextDouble() < synonymP;
        String prompt = swap ? shuffled.replace(keyWord, synonym) : shuffled;
        return new Augment(shuffled, prompt, synonym, doShuffle, swap && shuffled.contains(keyWord));
    }

    /** The words whose tokens the paper mode's attention losses read in {@link #prompt}. */
    String conceptInPrompt(String keyWord) {
        return swapped ? synonym : keyWord;
    }
}
