// What a reaction may be: one emoji (a Unicode RGI emoji sequence: skin tones, ZWJ sequences,
// flags and keycaps included) or a :shortcode: of the shipped emoji data (gemoji, GitHub's names),
// stored as its emoji, so ":+1:" and "👍" are the same reaction. No network: the data is a package.
import { nameToEmoji } from "gemoji";
import { fail } from "@parley/kit";

export const EMOJI_MAX_CHARACTERS = 64;

// Built at run time: the `v` flag's \p{RGI_Emoji} (Node 20+) matches whole emoji sequences.
const RGI_EMOJI = new RegExp("^\\p{RGI_Emoji}$", "v");
const SHORTCODE = /^:([a-z0-9_+-]{1,62}):$/;

/** The emoji a reaction input stands for, or undefined when it is not one. */
export function emojiOf(input: string): string | undefined {
  const text = input.trim();
  if (text.length === 0 || text.length > EMOJI_MAX_CHARACTERS) return undefined;
  const shortcode = SHORTCODE.exec(text);
  if (shortcode) return Object.hasOwn(nameToEmoji, shortcode[1]!) ? nameToEmoji[shortcode[1]!] : undefined;
  if (RGI_EMOJI.test(text)) return text;
  // A text-style symbol without its variation selector (❤ for ❤️): the emoji presentation.
  if (!text.includes("\u{FE0F}") && RGI_EMOJI.test(`${text}\u{FE0F}`)) return `${text}\u{FE0F}`;
  return undefined;
}

/** emojiOf, or INVALID_ARGUMENT naming the field. */
export function requireEmoji(input: string): string {
  const emoji = emojiOf(input);
  if (!emoji) {
    throw fail.invalidArgument(
      "emoji",
      `must be one emoji (at most ${EMOJI_MAX_CHARACTERS} characters) or a known :shortcode:`,
    );
  }
  return emoji;
}
