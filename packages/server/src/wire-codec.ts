/**
 * The protobuf side of the wire, in one place: decoding forward_backward request bodies and
 * encoding the results the SDK asks for as protobuf (ForwardBackwardOutput, SampleResponse).
 */
import {
  decodeForwardBackwardOutput,
  decodeForwardBackwardRequest,
  decodeSampleResponse,
  encodeForwardBackwardOutput,
  encodeSampleResponse,
  type ForwardBackwardOutput,
  type ForwardBackwardRequest,
  type SampleResponse,
} from '@tinker-ts/protocol';

/** Future kinds whose results can be sent as protobuf. */
export const PROTOBUF_RESULT_KINDS = new Set(['forward_backward', 'forward', 'sample']);

export function decodeForwardBackwardBody(bytes: Uint8Array): ForwardBackwardRequest {
  return decodeForwardBackwardRequest(bytes);
}

export function encodeResultProtobuf(kind: string, result: unknown): Uint8Array {
  if (kind === 'sample') return encodeSampleResponse(result as SampleResponse);
  return encodeForwardBackwardOutput(result as ForwardBackwardOutput);
}

/** The JSON form of a stored protobuf result, for clients that did not ask for protobuf. */
export function decodeResultProtobuf(kind: string, bytes: Uint8Array): unknown {
  if (kind === 'sample') return { ...decodeSampleResponse(bytes), type: 'sample' };
  return decodeForwardBackwardOutput(bytes);
}
