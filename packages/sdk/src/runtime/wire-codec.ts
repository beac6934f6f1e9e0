// The binary side of the wire, as the network thread needs it: ForwardBackwardRequest bodies go out
// as protobuf (zstd-compressed when the server asks), ForwardBackwardOutput and SampleResponse
// results come back as protobuf. The codecs themselves live in @tinker-ts/protocol.
import * as protocol from '@tinker-ts/protocol';
import { TinkerError } from '../errors.js';

export type ResultKind = 'json' | 'ForwardBackwardOutput' | 'SampleResponse';
export type ProtoRequestKind = 'ForwardBackwardRequest';

export function isProtoResultKind(kind: ResultKind): boolean {
  return kind !== 'json';
}

type Fn = (...args: any[]) => any;

function codecFunction(...names: string[]): Fn {
  const lib = protocol as unknown as Record<string, unknown>;
  for (const n of names) if (typeof lib[n] === 'function') return lib[n] as Fn;
  throw new TinkerError(`@tinker-ts/protocol lacks ${names[0]}(); rebuild or update it`);
}

export function encodeProtoRequest(kind: ProtoRequestKind, body: unknown): Uint8Array {
  switch (kind) {
    case 'ForwardBackwardRequest':
      return codecFunction('encodeForwardBackwardRequest')(body) as Uint8Array;
  }
}

export function decodeProtoResult(kind: ResultKind, bytes: Uint8Array): unknown {
  switch (kind) {
    case 'ForwardBackwardOutput':
      return codecFunction('decodeForwardBackwardOutput')(bytes);
    case 'SampleResponse':
      return codecFunction('decodeSampleResponse')(bytes);
    case 'json':
      throw new TinkerError('a JSON result kind has no protobuf decoder');
  }
}

/** zstd needs its wasm loaded once before compressing synchronously. */
export async function initCompression(): Promise<void> {
  const lib = protocol as unknown as Record<string, unknown>;
  const init = lib['initZstd'] ?? lib['zstdInit'];
  if (typeof init === 'function') await (init as Fn)();
}

export function compress(bytes: Uint8Array): Uint8Array {
  return codecFunction('zstdCompress', 'compressZstd')(bytes) as Uint8Array;
}
