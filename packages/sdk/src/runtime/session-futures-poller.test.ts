// The session-wide sample poll against a scripted peer: cursors passed back, completions that
// arrive before anyone waits for them, retries on a busy server, falling back on a 4xx, and no
// polling once nobody waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpClient } from './http.js';
import { SessionFuturesPoller } from './session-futures-poller.js';
import type { HttpTransport, TransportRequest } from './transport.js';

type Answer = { status: number; body?: unknown } | 'hang';

/** A transport that answers retrieve_futures from a script and records the polls' bodies. */
function scripted(answers: Answer[]) {
  const polls: any[] = [];
  const transport: HttpTransport = async (_url: string, req: TransportRequest) => {
    polls.push(JSON.parse(String(req.body)));
    const a = answers.shift() ?? 'hang';
    if (a === 'hang') {
      // Held like a long poll until the caller aborts it.
      await new Promise((_, reject) => req.signal?.addEventListener('abort', () => reject(req.signal!.reason), { once: true }));
    }
    const { status, body } = a as { status: number; body?: unknown };
    return { status, headers: { 'content-type': 'application/json' }, bytes: new TextEncoder().encode(JSON.stringify(body ?? {})) };
  };
  return { polls, transport };
}

function poller(transport: HttpTransport, closing = new AbortController()) {
  const logs: string[] = [];
  const http = new HttpClient({ transport, baseURL: 'http://peer.test', defaultHeaders: {}, authToken: () => 'tml-k' });
  const p = new SessionFuturesPoller({ samplingSessionId: 's1', clonedSamplerId: 2 }, {
    http, pollTimeoutMs: 1000, retryDelayMs: 5, closing: closing.signal, log: (m) => logs.push(m),
  });
  return { p, logs, closing };
}

const finished = (id: string, size = 10) => ({ state: 'finished', request_id: id, response_payload_uncompressed_size: size });

test('completions reach their waiters, early ones are kept, and each poll acknowledges the last cursor', async () => {
  const { polls, transport } = scripted([
    { status: 200, body: { completions: [finished('b', 7), finished('a', 5)], cursor: 4 } },
    { status: 200, body: { completions: [{ state: 'failed', request_id: 'c' }], cursor: 9 } },
  ]);
  const { p, closing } = poller(transport);
  const signal = new AbortController().signal;
  assert.deepEqual(await p.waitFor('a', signal), finished('a', 5));
  // 'b' came before anyone asked: it is handed out without another poll.
  assert.deepEqual(await p.waitFor('b', signal), finished('b', 7));
  assert.deepEqual(await p.waitFor('c', signal), { state: 'failed', request_id: 'c' });
  assert.equal(polls.length, 2);
  assert.deepEqual(polls[0], { target: { type: 'sampling_session', sampling_session_id: 's1', cloned_sampler_id: 2 }, prev_cursor: 0 });
  assert.equal(polls[1].prev_cursor, 4);
  closing.abort();
});

test('a busy server is polled again; a 4xx sends every waiter back to polling its own request', async () => {
  const { polls, transport } = scripted([{ status: 503 }, { status: 429 }, { status: 404, body: { detail: 'Not Found' } }]);
  const { p, logs } = poller(transport);
  const signal = new AbortController().signal;
  const [x, y] = await Promise.all([p.waitFor('x', signal), p.waitFor('y', signal)]);
  assert.deepEqual([x, y], [{ state: 'unknown', request_id: 'x' }, { state: 'unknown', request_id: 'y' }]);
  assert.equal(polls.length, 3);
  assert.deepEqual(await p.waitFor('z', signal), { state: 'unknown', request_id: 'z' }, 'later waits fall back at once');
  assert.equal(polls.length, 3, 'and the poll is not tried again');
  assert.match(logs.join('\n'), /HTTP 404; polling each sample instead/);
});

test('an aborted wait rejects at once, and the poll in flight stops when nobody waits', async () => {
  const { polls, transport } = scripted(['hang', 'hang']);
  const { p, closing } = poller(transport);
  const controller = new AbortController();
  const waiting = p.waitFor('q', controller.signal);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(polls.length, 1);
  controller.abort(new Error('gave up'));
  await assert.rejects(waiting, /gave up/);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(polls.length, 1, 'no new poll without a waiter');
  // The next waiter starts polling again from the same cursor.
  const again = p.waitFor('r', new AbortController().signal);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(polls.length, 2);
  assert.equal(polls[1].prev_cursor, 0);
  closing.abort(); // the client closes: the poll ends; the waiter is failed by its call's own signal
  void again.catch(() => {});
});
