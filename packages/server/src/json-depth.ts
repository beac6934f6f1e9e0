/**
 * How deeply a JSON text nests, measured on its bytes as they arrive. JSON.parse itself copes
 * with any depth, but whatever walks the value afterwards (schema checks, JSON.stringify for a
 * request hash or an error message) recurses, and 100k levels overflow the stack: a 500 instead
 * of a 400. One pass over the bytes, fed chunk by chunk while the body streams in, refuses such
 * a body before it is parsed.
 */

/** What each byte means to the scan: 0 for the bytes that do not matter (nearly all of them). */
const QUOTE = 1;
const BACKSLASH = 2;
const OPEN = 3;
const CLOSE = 4;
const CLASS = new Uint8Array(256);
CLASS[0x22] = QUOTE;
CLASS[0x5c] = BACKSLASH;
CLASS[0x5b] = OPEN; // [
CLASS[0x7b] = OPEN; // {
CLASS[0x5d] = CLOSE; // ]
CLASS[0x7d] = CLOSE; // }

export class JsonDepthScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(readonly maxDepth: number) {}

  /** Scans the next bytes; false once the text has nested deeper than maxDepth. */
  feed(bytes: Uint8Array): boolean {
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    const max = this.maxDepth;
    for (let i = 0; i < bytes.length; i++) {
      const k = CLASS[bytes[i]!]!;
      if (k === 0) {
        escaped = false;
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (k === BACKSLASH) escaped = true;
        else if (k === QUOTE) inString = false;
      } else if (k === QUOTE) {
        inString = true;
      } else if (k === OPEN) {
        if (++depth > max) return false;
      } else if (k === CLOSE) {
        depth--;
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    return true;
  }
}
