/**
 * Cuts text too long for one speech request into parts at sentence boundaries, so every join in
 * the audio falls in a pause a listener expects. A sentence longer than a request is cut between
 * words, and a "word" longer than a request (a URL, a run without spaces) at the limit itself,
 * never inside a surrogate pair. The parts, concatenated, are the text exactly.
 */

/** After sentence-ending punctuation (and closing quotes or brackets) and the spaces after it, or after a line break. */
const SENTENCE_END = /[.!?…。！？]+["'”’)\]]*\s+|\n\s*/gu;
const WORD_END = /\s+/gu;

/** Parts of at most `limit` characters (UTF-16 code units, as the API counts), in order. */
export function splitForSpeech(text: string, limit: number): string[] {
  if (text.length <= limit) return [text];
  const parts: string[] = [];
  let current = "";
  for (const sentence of pieces(text, SENTENCE_END)) {
    if (current.length + sentence.length <= limit) {
      current += sentence;
      continue;
    }
    if (current) parts.push(current);
    current = "";
    if (sentence.length <= limit) {
      current = sentence;
      continue;
    }
    for (const word of pieces(sentence, WORD_END)) {
      if (current.length + word.length <= limit) {
        current += word;
        continue;
      }
      if (current) parts.push(current);
      current = "";
      let rest = word;
      while (rest.length > limit) {
        const cut = isHighSurrogate(rest.charCodeAt(limit - 1)) ? limit - 1 : limit;
        parts.push(rest.slice(0, cut));
        rest = rest.slice(cut);
      }
      current = rest;
    }
  }
  if (current) parts.push(current);
  return parts;
}

/** `text` cut after each match of `boundary` (the boundary stays with the piece before it). */
function pieces(text: string, boundary: RegExp): string[] {
  const out: string[] = [];
  let start = 0;
  for (const match of text.matchAll(boundary)) {
    const end = match.index + match[0].length;
    if (end > start) out.push(text.slice(start, end));
    start = end;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
