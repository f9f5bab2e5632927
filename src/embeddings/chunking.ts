/**
 * Splits one input into chunks that each fit the embeddings model's token limit, recording where
 * each chunk sits in the original text so a search hit can be traced back to its passage.
 */
import { countTokens, tokenPieces, type TokenPiece } from "./tokenizer.js";

export interface ChunkingOptions {
  /** Largest chunk, in tokens (the model limit is 8191). */
  chunkTokens: number;
  /** Tokens neighbouring chunks share, so a passage cut at a boundary is still whole in one chunk. */
  overlapTokens: number;
}

export interface TextChunk {
  text: string;
  /** Offset of the first character in the input (UTF-16 code units, as JavaScript indexes strings). */
  start: number;
  /** Offset just past the last character (exclusive). */
  end: number;
  /** Tokens the API charges for this chunk. */
  tokens: number;
}

/**
 * Cuts `text` into chunks of at most `chunkTokens` tokens, on the tokenizer's piece boundaries
 * (normally words), with about `overlapTokens` tokens repeated between neighbours. Text that fits
 * is returned as a single chunk. Each chunk's token count is measured on the chunk's own text, so
 * it is exactly what the API will count.
 * @throws RangeError when the options are inconsistent (overlap not smaller than the chunk size).
 */
export function splitIntoChunks(text: string, options: ChunkingOptions): TextChunk[] {
  const { chunkTokens, overlapTokens } = options;
  if (!Number.isInteger(chunkTokens) || chunkTokens < 1)
    throw new RangeError(`chunkTokens must be a positive integer (got ${chunkTokens})`);
  if (overlapTokens < 0 || overlapTokens >= chunkTokens) {
    throw new RangeError(`overlapTokens must be from 0 to chunkTokens - 1 (got ${overlapTokens} with chunkTokens ${chunkTokens})`);
  }
  const whole = countTokens(text);
  if (whole <= chunkTokens) return [{ text, start: 0, end: text.length, tokens: whole }];

  const units = toUnits(tokenPieces(text), chunkTokens);
  const chunks: TextChunk[] = [];
  let first = 0;
  while (first < units.length) {
    // Greedy fill by the pieces' own token counts, then confirm on the real text: BPE at a chunk's
    // edges can differ by a token from the pieces' sum, so drop pieces until the count fits.
    let last = first;
    let sum = units[first]!.tokenCount;
    while (last + 1 < units.length && sum + units[last + 1]!.tokenCount <= chunkTokens) {
      last++;
      sum += units[last]!.tokenCount;
    }
    let chunk = makeChunk(units, first, last);
    while (chunk.tokens > chunkTokens && last > first) {
      last--;
      chunk = makeChunk(units, first, last);
    }
    chunks.push(chunk);
    if (last === units.length - 1) break;
    first = nextStart(units, first, last, overlapTokens);
  }
  return chunks;
}

/** A piece (or part of an oversized one) with its token count and offset in the input. */
interface Unit {
  text: string;
  tokenCount: number;
  start: number;
}

/** Pieces with their offsets; a piece longer than a chunk (a long run without spaces) is cut first. */
function toUnits(pieces: TokenPiece[], chunkTokens: number): Unit[] {
  const units: Unit[] = [];
  let offset = 0;
  for (const piece of pieces) {
    const parts =
      piece.tokens.length <= chunkTokens ? [{ text: piece.text, tokenCount: piece.tokens.length }] : cutPiece(piece.text, chunkTokens);
    for (const part of parts) {
      units.push({ ...part, start: offset });
      offset += part.text.length;
    }
  }
  return units;
}

/**
 * Cuts one oversized piece into parts of at most `maxTokens` tokens, each as long as possible.
 * Cuts are searched in characters (binary search on the part's own token count), never between
 * the two halves of a surrogate pair; decoding a token prefix instead could land inside a
 * multi-byte character.
 */
function cutPiece(text: string, maxTokens: number): { text: string; tokenCount: number }[] {
  const parts: { text: string; tokenCount: number }[] = [];
  let rest = text;
  while (countTokens(rest) > maxTokens) {
    let low = 1; // always fits: one character is at most a few tokens
    let high = rest.length;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (countTokens(rest.slice(0, safeCut(rest, mid))) <= maxTokens) low = mid;
      else high = mid - 1;
    }
    const cut = safeCut(rest, low) || Math.min(2, rest.length); // a lone pair is one character
    const head = rest.slice(0, cut);
    parts.push({ text: head, tokenCount: countTokens(head) });
    rest = rest.slice(cut);
  }
  parts.push({ text: rest, tokenCount: countTokens(rest) });
  return parts;
}

/** Moves a cut back by one when it would separate a surrogate pair. */
function safeCut(text: string, index: number): number {
  const code = text.charCodeAt(index - 1);
  return code >= 0xd800 && code <= 0xdbff ? index - 1 : index;
}

function makeChunk(units: Unit[], first: number, last: number): TextChunk {
  const start = units[first]!.start;
  const end = units[last]!.start + units[last]!.text.length;
  let text = "";
  for (let i = first; i <= last; i++) text += units[i]!.text;
  return { text, start, end, tokens: countTokens(text) };
}

/** First unit of the next chunk: back up from the end of this one by at most `overlapTokens`, always moving forward. */
function nextStart(units: Unit[], first: number, last: number, overlapTokens: number): number {
  let start = last + 1;
  let shared = 0;
  while (start - 1 > first && shared + units[start - 1]!.tokenCount <= overlapTokens) {
    start--;
    shared += units[start]!.tokenCount;
  }
  return start;
}
