/** Helpers over ModelInput: its length in positions and its plain token list. */

import { base64ToBytes } from './base64.js';
import { ValidationError } from './errors.js';
import type { ModelInput, ModelInputChunk } from './types.js';

/** A ModelInput made of one token chunk. */
export function modelInputFromTokens(tokens: number[]): ModelInput {
  return { chunks: [{ type: 'encoded_text', tokens }] };
}

/** Number of positions one chunk occupies in the context. */
export function chunkLength(chunk: ModelInputChunk, path = ''): number {
  switch (chunk.type) {
    case 'encoded_text':
      return chunk.tokens.length;
    case 'image':
    case 'image_asset_pointer':
      if (chunk.expected_tokens == null) {
        throw new ValidationError(`${chunk.type} chunk needs expected_tokens to know its length`, path);
      }
      return chunk.expected_tokens;
    case 'dmel':
      return dmelLength(chunk.dmel, path);
    default:
      throw new ValidationError(`unknown chunk type ${JSON.stringify((chunk as { type: unknown }).type)}`, path);
  }
}

/** Total positions of a ModelInput (sum over chunks). */
export function modelInputLength(input: ModelInput, path = ''): number {
  let total = 0;
  input.chunks.forEach((chunk, i) => {
    total += chunkLength(chunk, `${path}.chunks[${i}]`);
  });
  return total;
}

/** All tokens of a text-only ModelInput; throws on image/dmel chunks. */
export function modelInputTokens(input: ModelInput, path = ''): number[] {
  const out: number[] = [];
  input.chunks.forEach((chunk, i) => {
    if (chunk.type !== 'encoded_text') {
      throw new ValidationError(`only encoded_text chunks can be read as tokens, got ${chunk.type}`, `${path}.chunks[${i}].type`);
    }
    for (const t of chunk.tokens) out.push(t);
  });
  return out;
}

/**
 * Leading dimension of a DMel TensorContainer: [0xFE marker?] dtype byte,
 * varint ndim, varint dims. Only the header is read.
 */
function dmelLength(base64: string, path: string): number {
  const bytes = base64ToBytes(base64);
  let offset = 0;
  const fail = (why: string): never => {
    throw new ValidationError(`dmel TensorContainer header ${why}`, `${path}.dmel`);
  };
  if (bytes.length === 0) fail('is empty');
  if (bytes[offset] === 254) offset++;
  if (offset >= bytes.length) fail('is truncated');
  if (bytes[offset]! > 7) fail(`has unknown dtype byte ${bytes[offset]}`);
  offset++;
  const readVarint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (offset >= bytes.length) fail('is truncated');
      const b = bytes[offset++]!;
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return value;
      scale *= 128;
    }
    return fail('has a varint that is too long');
  };
  const ndim = readVarint();
  if (ndim < 1) fail('has no dimension 0');
  return readVarint();
}
