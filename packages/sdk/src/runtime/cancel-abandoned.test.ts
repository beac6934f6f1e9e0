// An abandoned sample (abort or timeoutMs after the server accepted it) is cancelled on the server
// with cancel_future when the dynamic config allows it; the future rejects at once either way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APIConnectionTimeoutError, APIUserAbortError } from '../errors.js';
import type { APIFuture } from '../future.js';
import type { SubmitSpec } from './messages.js';
import { harness, type Harness } from './testing/harness.js';
import type { PeerScript } from './testing/fake-peer.js';

const pending = { body: { type: 'try_again', queue_state: 'active' }, echoRequestId: true, delayMs: 50 };
const sample = (cancelWhenAbandoned = true): SubmitSpec => ({ path: 'asample', body: {}, requestType: 'Sample', resultKind: 'json', cancelWhenAbandoned });

function script(dynamicConfig: Record<string, unknown>, extra: PeerScript['defaults'] = {}): PeerScript {
  let n = 0;
  return {
    routes: { asample: Array.from({ length: 20 }, () => ({ body: { request_id: `r${++n}` } })) },
    defaults: {
      'client/dynamic_config': { body: dynamicConfig },
      retrieve_future: pending,
      cancel_future: { body: { cancelled: true } },
      ...extra,
    },
  };
}

async function accepted<T>(f: APIFuture<T>): Promise<string> {
  for (let i = 0; i < 200 && f.requestId === undefined; i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(f.requestId, 'the server never accepted the request');
  return f.requestId;
}

async function cancelsOf(h: Harness, expected: number): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const sent = await h.peer.requests('cancel_future');
    if (sent.length >= expected) return sent.map((r) => (r.json as { request_id: string }).request_id);
    await new Promise((r) => setTimeout(r, 10));
  }
  return (await h.peer.requests('cancel_future')).map((r) => (r.json as { request_id: string }).request_id);
}

test('aborting an accepted sample sends cancel_future when sample_cancel_enabled', async () => {
  const h = await harness(script({ sample_cancel_enabled: true }));
  try {
    const controller = new AbortController();
    const f = h.runtime.submit(sample(), { signal: controller.signal });
    const requestId = await accepted(f);
    const t0 = Date.now();
    controller.abort();
    await assert.rejects(f.future(), APIUserAbortError);
    assert.ok(Date.now() - t0 < 1000, 'the future did not reject at once');
    assert.deepEqual(await cancelsOf(h, 1), [requestId]);
  } finally {
    await h.close();
  }
});

test('a sample abandoned while its submit is on the way is cancelled once the server answers', async () => {
  const slow = script({ sample_cancel_enabled: true });
  slow.routes = { asample: [{ body: { request_id: 'slow-1' }, delayMs: 200 }] };
  const h = await harness(slow);
  try {
    await h.runtime.dynamicConfig(); // the flag is known when the submit starts
    const controller = new AbortController();
    const f = h.runtime.submit(sample(), { signal: controller.signal });
    while ((await h.peer.requests('asample')).length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await assert.rejects(f.future(), APIUserAbortError);
    assert.deepEqual(await cancelsOf(h, 1), ['slow-1']);
  } finally {
    await h.close();
  }
});

test('a sample that runs out of its timeoutMs is cancelled too', async () => {
  const h = await harness(script({ sample_cancel_enabled: true }));
  try {
    const f = h.runtime.submit(sample(), { timeoutMs: 200 });
    const requestId = await accepted(f);
    await assert.rejects(f.future(), APIConnectionTimeoutError);
    assert.deepEqual(await cancelsOf(h, 1), [requestId]);
  } finally {
    await h.close();
  }
});

test('no cancel_future when the server does not enable it, or for requests that do not ask for it', async () => {
  for (const [config, cancellable] of [[{}, true], [{ sample_cancel_enabled: true }, false]] as const) {
    const h = await harness(script(config));
    try {
      const controller = new AbortController();
      const f = h.runtime.submit(sample(cancellable), { signal: controller.signal });
      await accepted(f);
      controller.abort();
      await assert.rejects(f.future(), APIUserAbortError);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await h.peer.requests('cancel_future'), []);
    } finally {
      await h.close();
    }
  }
});

test('cancels go out in parallel rounds of at most sample_cancel_max_batch_size', async () => {
  const h = await harness(script({ sample_cancel_enabled: true, sample_cancel_max_batch_size: 2 }, { cancel_future: { body: {}, delayMs: 150 } }));
  try {
    const controller = new AbortController();
    const fs = Array.from({ length: 5 }, () => h.runtime.submit(sample(), { signal: controller.signal }));
    const ids = await Promise.all(fs.map(accepted));
    controller.abort();
    for (const f of fs) await assert.rejects(f.future(), APIUserAbortError);
    const sentIds = await cancelsOf(h, 5);
    assert.deepEqual([...sentIds].sort(), [...ids].sort());
    const times = (await h.peer.requests('cancel_future')).map((r) => r.at);
    const t0 = times[0]!;
    const rounds = times.map((t) => Math.round((t - t0) / 150));
    assert.deepEqual(rounds, [0, 0, 1, 1, 2], `arrivals at ${times.map((t) => t - t0).join(', ')} ms`);
  } finally {
    await h.close();
  }
});

test('a failing cancel_future is only logged, and close() sends no cancels', async () => {
  const h = await harness(script({ sample_cancel_enabled: true }, { cancel_future: { status: 500, body: { detail: 'boom' } } }));
  try {
    const controller = new AbortController();
    const f = h.runtime.submit(sample(), { signal: controller.signal });
    await accepted(f);
    controller.abort();
    await assert.rejects(f.future(), APIUserAbortError);
    assert.equal((await cancelsOf(h, 1)).length, 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(h.infos.some((m) => /cancel_future .* failed/.test(m)), h.infos.join('\n'));

    const g = h.runtime.submit(sample());
    await accepted(g);
    await h.runtime.close();
    await assert.rejects(g.future());
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await h.peer.requests('cancel_future')).length, 1);
    assert.deepEqual(h.warnings, []);
  } finally {
    await h.close();
  }
});
