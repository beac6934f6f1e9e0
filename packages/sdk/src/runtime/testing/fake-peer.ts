// A scripted Tinker server for tests: a tiny node:http server on 127.0.0.1 (port 0) running on its
// own thread, so it keeps answering while the test's main thread blocks in result() or busy-loops.
// Each route answers from a queue of scripted responses, then from its default.
import { Worker } from 'node:worker_threads';

export interface ScriptedResponse {
  status?: number;
  /** JSON body (or a string sent as is). Omit for an empty body. */
  body?: unknown;
  /** Raw bytes instead of `body`. */
  bytes?: number[];
  contentType?: string;
  headers?: Record<string, string>;
  delayMs?: number;
  /** Answer `try_again` with this request_id's number (for polls): body.request_id is copied from the request. */
  echoRequestId?: boolean;
}

export interface PeerScript {
  /** Route (path after /api/v1/) → responses served in order. */
  routes?: Record<string, ScriptedResponse[]>;
  /** Route → response once the route's queue is empty. */
  defaults?: Record<string, ScriptedResponse>;
}

export interface RecordedRequest {
  method: string;
  route: string;
  url: string;
  headers: Record<string, string>;
  /** Parsed JSON body, or undefined. */
  json: unknown;
  bytes: number[];
  at: number;
}

export interface FakePeer {
  baseURL: string;
  requests(route?: string): Promise<RecordedRequest[]>;
  /** Appends responses to a route's queue. */
  push(route: string, responses: ScriptedResponse[]): Promise<void>;
  close(): Promise<void>;
}

export async function startFakePeer(script: PeerScript = {}): Promise<FakePeer> {
  const worker = new Worker(new URL('./fake-peer-worker.js', import.meta.url), { workerData: script });
  let seq = 0;
  const waiting = new Map<number, (v: unknown) => void>();
  worker.on('message', (m: { t: string; id?: number; value?: unknown }) => {
    if (m.id !== undefined) {
      waiting.get(m.id)?.(m.value);
      waiting.delete(m.id);
    }
  });
  const ask = <T>(msg: Record<string, unknown>): Promise<T> =>
    new Promise((resolve) => {
      const id = ++seq;
      waiting.set(id, resolve as (v: unknown) => void);
      worker.postMessage({ ...msg, id });
    });
  const port = await ask<number>({ t: 'listen' });
  return {
    baseURL: `http://127.0.0.1:${port}`,
    requests: async (route) => {
      const all = await ask<RecordedRequest[]>({ t: 'requests' });
      return route ? all.filter((r) => r.route === route) : all;
    },
    push: (route, responses) => ask<void>({ t: 'push', route, responses }),
    close: async () => {
      await ask<void>({ t: 'close' });
      await worker.terminate();
    },
  };
}
