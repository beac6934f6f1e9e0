// The model's input: a sequence of chunks (token runs, images, image pointers). Immutable;
// `append*` return a new ModelInput, like the official SDK's.
import {
  base64ToBytes,
  bytesToBase64,
  type ImageFormat,
  type ModelInput as WireModelInput,
  type ModelInputChunk as WireChunk,
} from '@tinker-ts/protocol';
import { ValidationError } from './errors.js';

export interface EncodedTextChunk {
  readonly type: 'encoded_text';
  readonly tokens: readonly number[];
}

export interface ImageChunk {
  readonly type: 'image';
  /** Raw image bytes (base64 on the wire). */
  readonly data: Uint8Array;
  readonly format: ImageFormat;
  /** Tokens the image will take; needed to know the input's length. */
  readonly expectedTokens?: number | undefined;
}

export interface ImageAssetPointerChunk {
  readonly type: 'image_asset_pointer';
  readonly location: string;
  readonly format: ImageFormat;
  readonly expectedTokens?: number | undefined;
}

export type ModelInputChunk = EncodedTextChunk | ImageChunk | ImageAssetPointerChunk;

export class ModelInput {
  readonly chunks: readonly ModelInputChunk[];

  constructor(chunks: readonly ModelInputChunk[]) {
    chunks.forEach((c, i) => checkChunk(c, `model_input.chunks[${i}]`));
    this.chunks = Object.freeze([...chunks]);
  }

  /** Skips re-checking chunks that were already checked. */
  private static trusted(chunks: ModelInputChunk[]): ModelInput {
    const mi = Object.create(ModelInput.prototype) as { chunks: readonly ModelInputChunk[] };
    mi.chunks = Object.freeze(chunks);
    return mi as ModelInput;
  }

  static empty(): ModelInput {
    return new ModelInput([]);
  }

  static fromInts(tokens: readonly number[] | ArrayLike<number>): ModelInput {
    return new ModelInput([textChunk(Array.from(tokens))]);
  }

  static image(data: Uint8Array, format: ImageFormat, expectedTokens?: number): ModelInput {
    return new ModelInput([imageChunk(data, format, expectedTokens)]);
  }

  static fromWire(wire: WireModelInput): ModelInput {
    if (!wire || !Array.isArray(wire.chunks)) {
      throw new ValidationError('model_input.chunks: expected an array of chunks', { field: 'model_input.chunks' });
    }
    return new ModelInput(wire.chunks.map((c, i) => chunkFromWire(c, `model_input.chunks[${i}]`)));
  }

  /** All tokens; only for inputs made of token chunks. */
  toInts(): number[] {
    const out: number[] = [];
    for (const c of this.chunks) {
      if (c.type !== 'encoded_text') {
        throw new ValidationError(`toInts only supports token chunks, found a ${c.type} chunk`, { field: 'model_input.chunks' });
      }
      for (const t of c.tokens) out.push(t);
    }
    return out;
  }

  /** Context length: tokens plus each image's expected tokens. */
  get length(): number {
    let n = 0;
    this.chunks.forEach((c, i) => {
      n += chunkLength(c, `model_input.chunks[${i}]`);
    });
    return n;
  }

  append(chunk: ModelInputChunk): ModelInput {
    checkChunk(chunk, `model_input.chunks[${this.chunks.length}]`);
    return ModelInput.trusted([...this.chunks, chunk]);
  }

  appendInt(token: number): ModelInput {
    return this.append(textChunk([token]));
  }

  /** Appends tokens, merging into a trailing token chunk. */
  appendInts(tokens: readonly number[]): ModelInput {
    const last = this.chunks[this.chunks.length - 1];
    if (last && last.type === 'encoded_text') {
      const merged = textChunk([...last.tokens, ...tokens]);
      checkChunk(merged, `model_input.chunks[${this.chunks.length - 1}]`);
      return ModelInput.trusted([...this.chunks.slice(0, -1), merged]);
    }
    return this.append(textChunk(tokens));
  }

  toWire(): WireModelInput {
    return { chunks: this.chunks.map(chunkToWire) };
  }
}

export function textChunk(tokens: readonly number[]): EncodedTextChunk {
  return { type: 'encoded_text', tokens: [...tokens] };
}

export function imageChunk(data: Uint8Array, format: ImageFormat, expectedTokens?: number): ImageChunk {
  return expectedTokens === undefined ? { type: 'image', data, format } : { type: 'image', data, format, expectedTokens };
}

export function imageAssetPointerChunk(location: string, format: ImageFormat, expectedTokens?: number): ImageAssetPointerChunk {
  return expectedTokens === undefined
    ? { type: 'image_asset_pointer', location, format }
    : { type: 'image_asset_pointer', location, format, expectedTokens };
}

export function chunkLength(c: ModelInputChunk, field = 'chunk'): number {
  if (c.type === 'encoded_text') return c.tokens.length;
  if (c.expectedTokens === undefined) {
    throw new ValidationError(`${field}.expected_tokens: an ${c.type} chunk needs expected_tokens to know the input's length`, {
      field: `${field}.expected_tokens`,
    });
  }
  return c.expectedTokens;
}

/** Bytes a chunk takes in the protobuf body (tokens are int32). */
export function chunkWireBytes(c: ModelInputChunk): number {
  switch (c.type) {
    case 'encoded_text': return 4 * c.tokens.length;
    case 'image': return c.data.length;
    case 'image_asset_pointer': return c.location.length;
  }
}

function chunkToWire(c: ModelInputChunk): WireChunk {
  switch (c.type) {
    case 'encoded_text':
      return { type: 'encoded_text', tokens: [...c.tokens] };
    case 'image': {
      const w: WireChunk = { type: 'image', data: bytesToBase64(c.data), format: c.format };
      if (c.expectedTokens !== undefined) w.expected_tokens = c.expectedTokens;
      return w;
    }
    case 'image_asset_pointer': {
      const w: WireChunk = { type: 'image_asset_pointer', location: c.location, format: c.format };
      if (c.expectedTokens !== undefined) w.expected_tokens = c.expectedTokens;
      return w;
    }
  }
}

function chunkFromWire(w: WireChunk, field: string): ModelInputChunk {
  switch (w?.type) {
    case 'encoded_text':
      return textChunk(w.tokens);
    case 'image':
      return imageChunk(base64ToBytes(w.data), w.format, w.expected_tokens ?? undefined);
    case 'image_asset_pointer':
      return imageAssetPointerChunk(w.location, w.format, w.expected_tokens ?? undefined);
    default:
      throw new ValidationError(`${field}.type: unsupported chunk type ${JSON.stringify((w as { type?: unknown })?.type)}`, { field: `${field}.type` });
  }
}

function checkChunk(c: ModelInputChunk, field: string): void {
  switch (c?.type) {
    case 'encoded_text':
      if (!Array.isArray(c.tokens)) throw new ValidationError(`${field}.tokens: expected an array of token ids`, { field: `${field}.tokens` });
      c.tokens.forEach((t, i) => {
        if (!Number.isInteger(t) || t < 0 || t > 0x7fffffff) {
          throw new ValidationError(`${field}.tokens[${i}]: token ids are non-negative int32, got ${JSON.stringify(t)}`, { field: `${field}.tokens` });
        }
      });
      return;
    case 'image':
    case 'image_asset_pointer':
      if (c.format !== 'png' && c.format !== 'jpeg') {
        throw new ValidationError(`${field}.format: must be 'png' or 'jpeg', got ${JSON.stringify(c.format)}`, { field: `${field}.format` });
      }
      if (c.type === 'image' && !(c.data instanceof Uint8Array)) {
        throw new ValidationError(`${field}.data: expected image bytes (Uint8Array)`, { field: `${field}.data` });
      }
      if (c.type === 'image_asset_pointer' && typeof c.location !== 'string') {
        throw new ValidationError(`${field}.location: expected a string`, { field: `${field}.location` });
      }
      if (c.expectedTokens !== undefined && (!Number.isInteger(c.expectedTokens) || c.expectedTokens < 0)) {
        throw new ValidationError(`${field}.expected_tokens: must be a non-negative integer`, { field: `${field}.expected_tokens` });
      }
      return;
    default:
      throw new ValidationError(`${field}.type: unsupported chunk type ${JSON.stringify((c as { type?: unknown })?.type)}`, { field: `${field}.type` });
  }
}
