/**
 * Splits one input into chunks that each fit the embeddings model's token limit, recording where
 * each chunk sits in the original text so a search hit can be traced back to its passage.
 */
import { countTokens, decodeTokens, tokenPieces, type TokenPiece } from "./tokenizer.js";

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
  if (!Number.isInteger(chunkTokens) || chunkTokens < 1) throw new RangeError(`chunkTokens must be a positive integer (got ${chunkTokens})`);
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
    let sum = units[first]!.tokens.length;
    while (last + 1 < units.length && sum + units[last + 1]!.tokens.length <= chunkTokens) {
      last++;
      sum += units[last]!.tokens.length;
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

interface Unit extends TokenPiece {
  start: number;
}

/** Pieces with their offsets; a piece longer than a chunk (a long run without spaces) is cut first. */
function toUnits(pieces: TokenPiece[], chunkTokens: number): Unit[] {
  const units: Unit[] = [];
  let offset = 0;
  for (const piece of pieces) {
    for (const part of piece.tokens.length <= chunkTokens ? [piece] : cutPiece(piece, chunkTokens)) {
      units.push({ ...part, start: offset });
      offset += part.text.length;
    }
  }
  return units;
}

/**
 * Cuts one oversized piece into parts of at most `maxTokens` tokens. A cut between two tokens can
 * fall inside a multi-byte character; such cuts are moved back until the decoded text is a clean
 * prefix of the piece.
 */
function cutPiece(piece: TokenPiece, maxTokens: number): TokenPiece[] {
  const parts: TokenPiece[] = [];
  let tokens = piece.tokens;
  let rest = piece.text;
  while (tokens.length > maxTokens) {
    let take = maxTokens;
    let head = decodeTokens(tokens.slice(0, take));
    while (take > 1 && !(head.length > 0 && rest.startsWith(head) && countTokens(head) <= maxTokens)) {
      take--;
      head = decodeTokens(tokens.slice(0, take));
    }
    parts.push({ text: head, tokens: tokens.slice(0, take) });
    tokens = tokens.slice(take);
    rest = rest.slice(head.length);
  }
  parts.push({ text: rest, tokens });
  return parts;
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
  while (start - 1 > first && shared + units[start - 1]!.tokens.length <= overlapTokens) {
    start--;
    shared += units[start]!.tokens.length;
  }
  return start;
}
