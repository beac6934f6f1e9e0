// Base64 for the wire (image chunks, protobuf bytes fields, JWT payloads) on every runtime:
// Node's Buffer where it exists (several times faster), atob/btoa elsewhere (browsers, workers).
// Decoding is lenient about padding and accepts the URL-safe alphabet, as Buffer does.

interface BufferLike {
  from(data: string, encoding: 'base64'): Uint8Array;
  from(data: ArrayBuffer, byteOffset: number, length: number): { toString(encoding: 'base64'): string };
}

const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

/** Standard base64 (with padding) of `bytes`. */
export function bytesToBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let binary = '';
  const CHUNK = 0x8000; // String.fromCharCode takes its arguments on the stack
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(binary);
}

/** The bytes of standard or URL-safe base64, padded or not. Characters outside the alphabet are skipped. */
export function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  if (NodeBuffer) {
    const b = NodeBuffer.from(text, 'base64');
    return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
  }
  const clean = text.replace(/-/g, '+').replace(/_/g, '/').replace(/[^A-Za-z0-9+/]/g, '');
  const padded = clean.length % 4 === 1 ? clean.slice(0, -1) : clean; // a lone trailing sextet carries no byte
  const binary = atob(padded + '='.repeat((4 - (padded.length % 4)) % 4));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
