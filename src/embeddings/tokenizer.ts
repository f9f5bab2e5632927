/**
 * Token counting for embeddings models. text-embedding-3-small/-large and text-embedding-ada-002
 * all use the cl100k_base encoding, so one tokenizer serves every embeddings deployment.
 *
 * Special-token text such as `<|endoftext|>` in user input is encoded as ordinary text, the way
 * the embeddings API treats it, instead of throwing as gpt-tokenizer does by default.
 */
import { countTokens as countCl100k, decode, encodeGenerator } from "gpt-tokenizer/encoding/cl100k_base";

const AS_ORDINARY_TEXT = { disallowedSpecial: new Set<string>() };

/** Number of tokens the embeddings API charges for `text`. */
export function countTokens(text: string): number {
  return countCl100k(text, AS_ORDINARY_TEXT);
}

/** A run of text the tokenizer never merges across (a word, a space run, ...), with its tokens. */
export interface TokenPiece {
  text: string;
  tokens: number[];
}

/**
 * Splits text into the tokenizer's pre-tokenization pieces. Piece boundaries are character
 * boundaries, so chunks built from whole pieces never cut a character in half.
 */
export function tokenPieces(text: string): TokenPiece[] {
  // Only whole pieces are decoded: gpt-tokenizer's decoder keeps the bytes of an incomplete
  // character between calls, so decoding a cut inside a character would corrupt later results.
  const pieces: TokenPiece[] = [];
  for (const tokens of encodeGenerator(text, AS_ORDINARY_TEXT)) {
    pieces.push({ text: decode(tokens), tokens });
  }
  return pieces;
}
