// The binary side of the wire, as the network thread needs it: ForwardBackwardRequest bodies go out
// as protobuf (zstd-compressed when the server asks), ForwardBackwardOutput and SampleResponse
// results come back as protobuf. The codecs themselves live in @tinker-ts/protocol.
import {
  decodeForwardBackwardOutput, decodeSampleResponse, encodeForwardBackwardRequest, zstdCompress,
  type ForwardBackwardRequest,
} from '@tinker-ts/protocol';

export type ResultKind = 'json' | 'ForwardBackwardOutput' | 'SampleResponse';
export type ProtoRequestKind = 'ForwardBackwardRequest';

export function isProtoResultKind(kind: ResultKind): boolean {
  return kind !== 'json';
}

export function encodeProtoRequest(kind: ProtoRequestKind, body: unknown): Uint8Array {
  switch (kind) {
    case 'ForwardBackwardRequest':
      return encodeForwardBackwardRequest(body as ForwardBackwardRequest);
  }
}

export function decodeProtoResult(kind: Exclude<ResultKind, 'json'>, bytes: Uint8Array): unknown {
  switch (kind) {
    case 'ForwardBackwardOutput':
      return decodeForwardBackwardOutput(bytes);
    case 'SampleResponse':
      return decodeSampleResponse(bytes);
  }
}

export function compress(bytes: Uint8Array): Promise<Uint8Array> {
  return zstdCompress(bytes);
}
