// A small Tinker server for the client tests: node:http on 127.0.0.1 (port 0) on its own thread,
// so it keeps answering while a test blocks in result(). It speaks the real wire (futures,
// retrieve_future with try_again, protobuf forward_backward bodies and results) and records
// every request. Its "model" is arithmetic: the logprob of target token t is -((t % 5) + 1) / 4.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import * as protocol from '@tinker-ts/protocol';

export interface FakeTinkerOptions {
  /** client/config flags. */
  config?: Partial<protocol.ClientConfigResponse>;
  /** Futures answer try_again until this many ms after submission. */
  futureDelayMs?: number;
  /** Sampling futures take this long instead. */
  sampleDelayMs?: number;
  /** Number of training runs the REST list serves. */
  trainingRuns?: number;
  /**
   * Each request (but polls) reaches the server a random 0..networkDelayMs later than it was
   * sent, as over a network with uneven delays, and the log records them in the order the server
   * took them: a server that runs a model's requests in that order sees what this log shows.
   */
  networkDelayMs?: number;
}

export interface LoggedRequest {
  method: string;
  route: string;
  query: Record<string, string>;
  /** JSON body, or the decoded ForwardBackwardRequest. */
  body: any;
  /** Content-Type and Content-Encoding of the request body. */
  contentType: string;
  contentEncoding: string;
  /** asample only: samples submitted but not yet delivered when this one arrived. */
  samplesInFlight?: number;
}

export interface FakeTinker {
  baseURL: string;
  log(route?: string): Promise<LoggedRequest[]>;
  close(): Promise<void>;
}

export const FAKE_BASE_MODEL = 'Qwen/Qwen3-8B';

/** The fake model's logprob of a target token. */
export function fakeLogprob(token: number): number {
  return -((token % 5) + 1) / 4;
}

export async function startFakeTinker(options: FakeTinkerOptions = {}): Promise<FakeTinker> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { fakeTinker: options } });
  let next = 0;
  const waiting = new Map<number, (v: any) => void>();
  worker.on('message', (m: { id: number; value: any }) => {
    waiting.get(m.id)?.(m.value);
    waiting.delete(m.id);
  });
  const ask = (msg: Record<string, unknown>): Promise<any> =>
    new Promise((resolve) => {
      const id = ++next;
      waiting.set(id, resolve);
      worker.postMessage({ ...msg, id });
    });
  const baseURL = (await ask({ t: 'address' })) as string;
  return {
    baseURL,
    log: async (route) => ((await ask({ t: 'log' })) as LoggedRequest[]).filter((r) => route === undefined || r.route === route),
    close: async () => {
      await ask({ t: 'close' });
      await worker.terminate();
    },
  };
}

// ---------------------------------------------------------------- the server thread

interface StoredFuture {
  readyAt: number;
  kind: 'json' | 'ForwardBackwardOutput' | 'SampleResponse';
  result: any;
  delivered: boolean;
}

function serve(options: FakeTinkerOptions): void {
  const log: LoggedRequest[] = [];
  const futures = new Map<string, StoredFuture>();
  let futureCount = 0;
  const config = { ...protocol.CLIENT_CONFIG_DEFAULTS, use_pyqwest_transport: false, ...options.config };
  const sessionId = 'sess-1';

  const future = (kind: StoredFuture['kind'], result: any, delayMs = options.futureDelayMs ?? 0, extra: Record<string, unknown> = {}) => {
    const request_id = `req-${++futureCount}`;
    futures.set(request_id, { readyAt: Date.now() + delayMs, kind, result, delivered: false });
    return { request_id, ...extra };
  };

  const runs = Array.from({ length: options.trainingRuns ?? 0 }, (_, i) => ({
    training_run_id: `run-${i}`,
    base_model: FAKE_BASE_MODEL,
    model_owner: 'tester',
    is_lora: true,
    lora_rank: 8,
    last_request_time: '2026-01-01T00:00:00Z',
  }));
  const checkpoint = (run: string, id: string) => ({
    checkpoint_id: id,
    checkpoint_type: id.startsWith('weights/') ? 'training' : 'sampler',
    time: '2026-01-01T00:00:00Z',
    tinker_path: `tinker://${run}/${id}`,
  });

  function forwardBackward(req: protocol.ForwardBackwardRequest): protocol.ForwardBackwardOutput {
    let loss = 0;
    const outputs = req.forward_backward_input.data.map((d) => {
      const targets = protocol.denseValues(d.loss_fn_inputs['target_tokens']!);
      const weightsTd = d.loss_fn_inputs['weights'];
      const weights = weightsTd ? protocol.denseValues(weightsTd) : targets.map(() => 1);
      const logprobs = targets.map(fakeLogprob);
      const elementwise = logprobs.map((lp, i) => -lp * weights[i]!);
      loss += elementwise.reduce((a, b) => a + b, 0);
      return {
        logprobs: { data: logprobs, dtype: 'float32' as const, shape: [logprobs.length] },
        elementwise_loss: { data: elementwise, dtype: 'float32' as const, shape: [elementwise.length] },
      };
    });
    return { loss_fn_output_type: 'ArrayRecord', loss_fn_outputs: outputs, metrics: { 'loss:sum': loss, 'seq_id:max': req.seq_id ?? 0 } };
  }

  function route(method: string, path: string, query: URLSearchParams, body: any, accept: string): { status?: number; json?: unknown; bytes?: Uint8Array } {
    const runMatch = /^training_runs\/([^/]+)(?:\/checkpoints(?:\/(weights|sampler_weights)\/([^/]+)(\/archive|\/publish|\/ttl)?)?)?$/.exec(path);
    switch (`${method} ${path}`) {
      case 'POST client/config':
        return { json: config };
      case 'POST client/dynamic_config':
        return { json: {} };
      case 'POST create_session':
        return { json: { session_id: sessionId, type: 'create_session' } };
      case 'POST session_heartbeat':
        return { json: { type: 'session_heartbeat' } };
      case 'GET get_server_capabilities':
        return { json: { supported_models: [{ model_name: FAKE_BASE_MODEL, max_context_length: 4096 }] } };
      case 'POST create_model':
        return { json: future('json', { model_id: `${body.session_id}:train:${body.model_seq_id}`, type: 'create_model' }) };
      case 'POST forward_backward':
        return { json: future('ForwardBackwardOutput', forwardBackward(body)) };
      case 'POST optim_step':
        return { json: future('json', { metrics: { 'learning_rate:mean': (body.adam_params ?? body.optimizer_params).learning_rate } }) };
      case 'POST save_weights':
        return { json: future('json', { path: `tinker://run-0/weights/${body.path}`, type: 'save_weights' }) };
      case 'POST save_weights_for_sampler':
        return {
          json: future('json', body.path
            ? { path: `tinker://run-0/sampler_weights/${body.path}` }
            : { sampling_session_id: `${sessionId}:sample:${body.sampling_session_seq_id}` }),
        };
      case 'POST load_weights':
        return { json: future('json', { path: body.path, model_id: body.model_id ?? `${body.session_id}:train:${body.model_seq_id}` }) };
      case 'POST unload_model':
        return { json: future('json', { model_id: body.model_id, type: 'unload_model' }) };
      case 'POST weights_info':
        return { json: { base_model: FAKE_BASE_MODEL, is_lora: true, lora_rank: 8, train_mlp: true, train_attn: false, train_unembed: true } };
      case 'POST get_info':
        return { json: { model_id: body.model_id, model_data: { model_name: FAKE_BASE_MODEL, arch: 'qwen3' }, is_lora: true, lora_rank: 8 } };
      case 'POST create_sampling_session':
        return { json: { sampling_session_id: `${sessionId}:sample:${body.sampling_session_seq_id}`, type: 'create_sampling_session' } };
      case 'POST asample': {
        const prompt = protocol.modelInputTokens(body.prompt);
        const n = body.num_samples ?? 1;
        const maxTokens = body.sampling_params?.max_tokens ?? 4;
        const sequences = Array.from({ length: n }, (_, i) => {
          const tokens = Array.from({ length: maxTokens }, (_, j) => (prompt[prompt.length - 1]! + 1 + i + j) % 1000);
          return { tokens, logprobs: tokens.map(fakeLogprob), stop_reason: 'length' as const };
        });
        const result: protocol.SampleResponse = { sequences };
        if (body.prompt_logprobs) result.prompt_logprobs = prompt.map((t, i) => (i === 0 ? null : fakeLogprob(t)));
        const ids = sequences.map((_, i) => `${body.sampling_session_id}:${body.seq_id}:${i}`);
        return { json: future('SampleResponse', result, options.sampleDelayMs, { sample_sequence_ids: ids }) };
      }
      case 'POST retrieve_future': {
        const f = futures.get(body.request_id);
        if (!f) return { status: 404, json: { detail: `unknown request ${body.request_id}` } };
        if (Date.now() < f.readyAt) return { status: 200, json: { type: 'try_again', request_id: body.request_id, queue_state: 'active' } };
        f.delivered = true;
        if (accept.includes('protobuf') && f.kind === 'ForwardBackwardOutput') return { bytes: protocol.encodeForwardBackwardOutput(f.result) };
        if (accept.includes('protobuf') && f.kind === 'SampleResponse') return { bytes: protocol.encodeSampleResponse(f.result) };
        return { json: f.result };
      }
      case 'GET training_runs': {
        const offset = Number(query.get('offset') ?? 0);
        const limit = Number(query.get('limit') ?? 20);
        return { json: { training_runs: runs.slice(offset, offset + limit), cursor: { offset, limit, total_count: runs.length } } };
      }
      case 'GET checkpoints':
        return { json: { checkpoints: [checkpoint('run-0', 'weights/a'), checkpoint('run-1', 'sampler_weights/b')], cursor: { offset: 0, limit: 100, total_count: 2 } } };
      case 'GET sessions': {
        const all = ['s-a', 's-b', 's-c'];
        const offset = Number(query.get('offset') ?? 0);
        const limit = Number(query.get('limit') ?? 20);
        return { json: { sessions: all.slice(offset, offset + limit) } };
      }
    }
    if (method === 'GET' && path.startsWith('samplers/')) {
      return { json: { sampler_id: decodeURIComponent(path.slice('samplers/'.length)), base_model: FAKE_BASE_MODEL, model_path: null } };
    }
    if (method === 'GET' && path.startsWith('sessions/')) {
      return { json: { training_run_ids: ['run-0'], sampler_ids: [] } };
    }
    if (runMatch) {
      const [, run, kind, name, action] = runMatch;
      if (!kind && method === 'GET' && !path.endsWith('/checkpoints')) {
        const r = runs.find((x) => x.training_run_id === run);
        return r ? { json: r } : { status: 404, json: { detail: `no training run ${run}` } };
      }
      if (!kind && method === 'GET') return { json: { checkpoints: [checkpoint(run!, 'weights/a'), checkpoint(run!, 'sampler_weights/b')] } };
      if (kind && !action && method === 'DELETE') return { status: 204 };
      if (action === '/archive' && method === 'GET') return { json: { url: `https://example.test/${run}/${kind}/${name}.tar`, expires: '2026-01-02T00:00:00Z' } };
      if (action === '/publish' && (method === 'POST' || method === 'DELETE')) return { status: 204 };
      if (action === '/ttl' && method === 'PUT') return { status: 204 };
    }
    return { status: 404, json: { detail: `no route ${method} ${path}` } };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let raw: Uint8Array = new Uint8Array(Buffer.concat(chunks));
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/^\/api\/v1\//, '');
    const method = req.method ?? 'GET';
    let body: any;
    try {
      if (req.headers['content-encoding'] === 'zstd') raw = await protocol.zstdDecompress(raw);
      if ((req.headers['content-type'] ?? '').includes('protobuf')) body = protocol.decodeForwardBackwardRequest(raw);
      else if (raw.length) body = JSON.parse(Buffer.from(raw).toString('utf8'));
    } catch (e) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: String(e) }));
      return;
    }
    const entry: LoggedRequest = {
      method,
      route: path,
      query: Object.fromEntries(url.searchParams),
      body,
      contentType: String(req.headers['content-type'] ?? ''),
      contentEncoding: String(req.headers['content-encoding'] ?? ''),
    };
    const delayMs = options.networkDelayMs ?? 0;
    if (delayMs > 0 && path !== 'retrieve_future') await new Promise((r) => setTimeout(r, Math.random() * delayMs));
    if (path === 'asample') entry.samplesInFlight = [...futures.values()].filter((f) => f.kind === 'SampleResponse' && !f.delivered).length;
    log.push(entry);
    const out = route(method, path, url.searchParams, body, String(req.headers['accept'] ?? ''));
    if (out.bytes) {
      res.writeHead(out.status ?? 200, { 'content-type': 'application/x-protobuf', 'content-length': String(out.bytes.length) }).end(Buffer.from(out.bytes));
    } else if (out.json !== undefined) {
      const text = JSON.stringify(out.json);
      res.writeHead(out.status ?? 200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }).end(text);
    } else {
      res.writeHead(out.status ?? 200).end();
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => res.writeHead(500).end(String(e)));
  });
  server.listen(0, '127.0.0.1');
  parentPort!.on('message', (m: { t: string; id: number }) => {
    if (m.t === 'address') {
      const reply = () => {
        const a = server.address();
        parentPort!.postMessage({ id: m.id, value: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` });
      };
      if (server.listening) reply();
      else server.once('listening', reply);
    } else if (m.t === 'log') {
      parentPort!.postMessage({ id: m.id, value: log });
    } else if (m.t === 'close') {
      server.closeAllConnections();
      server.close(() => parentPort!.postMessage({ id: m.id, value: null }));
    }
  });
}

if (!isMainThread && workerData?.fakeTinker) serve(workerData.fakeTinker as FakeTinkerOptions);
