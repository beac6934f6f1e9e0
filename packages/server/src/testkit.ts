/**
 * Helpers for the server's HTTP tests: a raw-fetch client that speaks the wire protocol the
 * way the official SDK does (JSON or protobuf bodies, long-polling retrieve_future), and
 * builders for small training data.
 */
import { decodeForwardBackwardOutput, decodeSampleResponse, encodeForwardBackwardRequest, type Datum, type ForwardBackwardOutput, type ForwardBackwardRequest, type SampleResponse } from '@tinker-ts/protocol';

export const TINY_MODEL = 'tinker-ts/tiny-qwen3';

export interface RawResponse {
  status: number;
  contentType: string;
  body: Uint8Array;
  /** Parsed JSON body (null if not JSON). */
  json: any;
}

export class TestClient {
  constructor(
    readonly baseUrl: string,
    readonly apiKey: string | null = 'tml-test-user',
  ) {}

  async request(
    method: string,
    path: string,
    body?: unknown,
    opts: { headers?: Record<string, string>; raw?: Uint8Array } = {},
  ): Promise<RawResponse> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.apiKey !== null) headers['X-API-Key'] = this.apiKey;
    let payload: string | Uint8Array | undefined;
    if (opts.raw) {
      payload = opts.raw;
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['Content-Type'] ??= 'application/json';
    }
    const res = await fetch(`${this.baseUrl}/api/v1/${path}`, { method, headers, body: payload });
    const buf = new Uint8Array(await res.arrayBuffer());
    const contentType = res.headers.get('content-type') ?? '';
    let json: any = null;
    if (contentType.includes('json')) json = JSON.parse(Buffer.from(buf).toString('utf8'));
    return { status: res.status, contentType, body: buf, json };
  }

  /** POST with a JSON body; throws unless the status is 200. */
  async post(path: string, body: unknown): Promise<any> {
    const res = await this.request('POST', path, body);
    if (res.status !== 200) throw new Error(`POST ${path} → ${res.status}: ${Buffer.from(res.body).toString('utf8')}`);
    return res.json;
  }

  async forwardBackwardProto(req: ForwardBackwardRequest): Promise<RawResponse> {
    return this.request('POST', 'forward_backward', undefined, {
      raw: encodeForwardBackwardRequest(req),
      headers: { 'Content-Type': 'application/x-protobuf' },
    });
  }

  /** Polls retrieve_future until the result is there (as the SDK does); returns the last raw answer. */
  async retrieveRaw(requestId: string, opts: { protobuf?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    let allowMetadataOnly = true;
    for (;;) {
      const res = await this.request(
        'POST',
        'retrieve_future',
        { request_id: requestId, allow_metadata_only: allowMetadataOnly },
        { headers: opts.protobuf ? { Accept: 'application/x-protobuf' } : {} },
      );
      if (res.status !== 200) return res;
      if (res.json?.type === 'try_again') {
        if (Date.now() > deadline) throw new Error(`request ${requestId} still pending: ${JSON.stringify(res.json)}`);
        continue;
      }
      if (res.json?.status === 'complete_metadata') {
        allowMetadataOnly = false;
        continue;
      }
      return res;
    }
  }

  /** The JSON result of a future; throws if it failed. */
  async result(requestId: string): Promise<any> {
    const res = await this.retrieveRaw(requestId);
    if (res.status !== 200) throw new Error(`retrieve ${requestId} → ${res.status}: ${Buffer.from(res.body).toString('utf8')}`);
    if (res.json && 'error' in res.json) throw new Error(`request ${requestId} failed (${res.json.category}): ${res.json.error}`);
    return res.json;
  }

  async forwardBackwardResult(requestId: string): Promise<ForwardBackwardOutput> {
    const res = await this.retrieveRaw(requestId, { protobuf: true });
    if (!res.contentType.includes('application/x-protobuf')) {
      throw new Error(`expected a protobuf result for ${requestId}, got ${res.status} ${Buffer.from(res.body).toString('utf8')}`);
    }
    return decodeForwardBackwardOutput(res.body);
  }

  async sampleResult(requestId: string): Promise<SampleResponse> {
    const res = await this.retrieveRaw(requestId, { protobuf: true });
    if (!res.contentType.includes('application/x-protobuf')) {
      throw new Error(`expected a protobuf result for ${requestId}, got ${res.status} ${Buffer.from(res.body).toString('utf8')}`);
    }
    return decodeSampleResponse(res.body);
  }

  async createSession(): Promise<string> {
    const res = await this.post('create_session', { tags: ['test'], user_metadata: null, sdk_version: '0.31.0', type: 'create_session' });
    return res.session_id as string;
  }

  async createModel(sessionId: string, modelSeqId = 0, rank = 4, seed = 1): Promise<string> {
    const fut = await this.post('create_model', {
      session_id: sessionId,
      model_seq_id: modelSeqId,
      base_model: TINY_MODEL,
      lora_config: { rank, seed, train_mlp: true, train_attn: true, train_unembed: false },
      type: 'create_model',
    });
    const res = await this.result(fut.request_id);
    return res.model_id as string;
  }
}

/** A cross-entropy datum for next-token prediction on `tokens` (shifted like the SDK does). */
export function nextTokenDatum(tokens: number[]): Datum {
  const input = tokens.slice(0, -1);
  const targets = tokens.slice(1);
  return {
    model_input: { chunks: [{ type: 'encoded_text', tokens: input }] },
    loss_fn_inputs: {
      target_tokens: { data: targets, dtype: 'int64', shape: [targets.length] },
      weights: { data: targets.map(() => 1), dtype: 'float32', shape: [targets.length] },
    },
  };
}

/** A small fixed batch the tiny model can learn within a few steps. */
export function tinyBatch(): Datum[] {
  return [
    nextTokenDatum([11, 22, 33, 44, 55, 66, 77, 88]),
    nextTokenDatum([101, 202, 303, 404, 505, 606, 707]),
  ];
}
