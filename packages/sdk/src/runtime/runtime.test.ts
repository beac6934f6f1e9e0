// The runtime seen from the caller's thread: blocking without deadlock, heartbeats meanwhile,
// send order, aborts and timeouts, errors that keep their class across the thread boundary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  APIConnectionTimeoutError, APIUserAbortError, InternalServerError, NotFoundError, RequestFailedError, TimeoutError, TinkerError,
} from '../errors.js';
import { APIFuture } from '../future.js';
import { Runtime } from './runtime.js';
import { busyLoop, harness } from './testing/harness.js';
import { startFakePeer } from './testing/fake-peer.js';

const tryAgain = { body: { type: 'try_again', queue_state: 'active' }, echoRequestId: true };

test('requests and submits leave in the order they were called', async () => {
  const h = await harness({ defaults: { echo: { body: { ok: true } }, optim_step: { body: { request_id: 'r' } }, retrieve_future: { body: { ok: 1 } } } });
  try {
    const fs: APIFuture<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      fs.push(i % 2 ? h.runtime.request({ method: 'POST', path: 'echo', body: { i } }) : h.runtime.submit({ path: 'optim_step', body: { i }, requestType: 'OptimStep', resultKind: 'json' }));
    }
    await APIFuture.all(fs);
    const sent = (await h.peer.requests()).filter((r) => r.route === 'echo' || r.route === 'optim_step');
    assert.deepEqual(sent.map((r) => (r.json as { i: number }).i), [...Array(40).keys()]);
  } finally {
    await h.close();
  }
});

test('result() blocks without deadlock while heartbeats keep flowing', async () => {
  const h = await harness({ routes: { optim_step: [{ body: { request_id: 'r1' } }], retrieve_future: [{ body: { done: true }, delayMs: 600 }] } });
  try {
    const session = h.runtime.sessionId().result(5000); // blocking bootstrap + create_session
    assert.equal(session, 'session-1');
    const f = h.runtime.submit<{ done: boolean }>({ path: 'optim_step', body: {}, requestType: 'OptimStep', resultKind: 'json' });
    const t0 = Date.now();
    assert.deepEqual(f.result(), { done: true });
    const t1 = Date.now();
    assert.ok(t1 - t0 >= 500);
    const beats = (await h.peer.requests('session_heartbeat')).filter((r) => r.at >= t0 && r.at <= t1);
    assert.ok(beats.length >= 3, `only ${beats.length} heartbeats while blocked (interval 40 ms, ${t1 - t0} ms)`);
    assert.deepEqual(beats[0]!.json, { session_id: 'session-1', type: 'session_heartbeat' });
  } finally {
    await h.close();
  }
});

test('heartbeats keep flowing while the caller burns CPU', async () => {
  const h = await harness();
  try {
    await h.runtime.sessionId();
    const t0 = Date.now();
    busyLoop(500);
    const t1 = Date.now();
    const beats = (await h.peer.requests('session_heartbeat')).filter((r) => r.at >= t0 && r.at <= t1);
    assert.ok(beats.length >= 3, `only ${beats.length} heartbeats during the busy loop`);
  } finally {
    await h.close();
  }
});

test('a heartbeat outage is reported after heartbeatWarnAfterMs', async () => {
  const h = await harness({ defaults: { session_heartbeat: { status: 503 } } }, { timing: { heartbeatWarnAfterMs: 100 } });
  try {
    await h.runtime.sessionId();
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(h.warnings.some((w) => /heartbeat failed/i.test(w) && /session-1/.test(w)), h.warnings.join('\n'));
  } finally {
    await h.close();
  }
});

test('result(timeout) times out, and a later result() succeeds', async () => {
  const h = await harness({ routes: { optim_step: [{ body: { request_id: 'r1' } }], retrieve_future: [{ body: { v: 1 }, delayMs: 3000 }] } }, { timing: { pollTimeoutMs: 20_000 } });
  try {
    const f = h.runtime.submit<{ v: number }>({ path: 'optim_step', body: {}, requestType: 'OptimStep', resultKind: 'json' });
    const t0 = Date.now();
    assert.throws(() => f.result(100), TimeoutError);
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(f.done(), false);
    assert.deepEqual(f.result(5000), { v: 1 });
    assert.equal(f.requestId, 'r1');
  } finally {
    await h.close();
  }
});

test('derived futures block and await through the runtime', async () => {
  const h = await harness({
    routes: {
      optim_step: [{ body: { request_id: 'a' } }, { body: { request_id: 'b' } }],
      retrieve_future: [{ body: { n: 2 }, delayMs: 50 }, { body: { n: 3 }, delayMs: 50 }],
    },
  });
  try {
    const sub = (n: number) => h.runtime.submit<{ n: number }>({ path: 'optim_step', body: { n }, requestType: 'OptimStep', resultKind: 'json' });
    let mapped = 0;
    const m = sub(1).map((v) => (mapped++, v.n * 10));
    const c = m.chain((x) => sub(2).map((v) => x + v.n));
    assert.equal(c.result(5000), 23);
    assert.equal(await c, 23);
    assert.equal(await m, 20);
    assert.equal(mapped, 1);
  } finally {
    await h.close();
  }
});

test('an aborted signal ends the call with APIUserAbortError and stops polling', async () => {
  const h = await harness({ routes: { optim_step: [{ body: { request_id: 'r1' } }] }, defaults: { retrieve_future: { ...tryAgain, delayMs: 10 } } });
  try {
    const ac = new AbortController();
    const f = h.runtime.submit({ path: 'optim_step', body: {}, requestType: 'OptimStep', resultKind: 'json' }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 80);
    await assert.rejects(f.future(), APIUserAbortError);
    assert.throws(() => f.result(), APIUserAbortError);
    const before = (await h.peer.requests('retrieve_future')).length;
    await new Promise((r) => setTimeout(r, 100));
    assert.ok((await h.peer.requests('retrieve_future')).length <= before + 1, 'polling stopped');
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(h.runtime.request({ method: 'GET', path: 'healthz' }, { signal: pre.signal }).future(), APIUserAbortError);
  } finally {
    await h.close();
  }
});

test('timeoutMs bounds the whole call', async () => {
  const h = await harness({ routes: { optim_step: [{ body: { request_id: 'r1' } }] }, defaults: { retrieve_future: { ...tryAgain, delayMs: 10 } } });
  try {
    const t0 = Date.now();
    const f = h.runtime.submit({ path: 'optim_step', body: {}, requestType: 'OptimStep', resultKind: 'json' }, { timeoutMs: 150 });
    assert.throws(() => f.result(), APIConnectionTimeoutError);
    assert.ok(Date.now() - t0 < 1000);
  } finally {
    await h.close();
  }
});

test('errors keep their class after crossing from the network thread', async () => {
  const h = await harness({
    routes: { optim_step: [{ body: { request_id: 'r1' } }], retrieve_future: [{ body: { error: 'nope', category: 'user' } }] },
    defaults: { broken: { status: 500, body: { detail: 'kaput' } } },
  });
  try {
    const missing = h.runtime.request({ method: 'GET', path: 'training_runs/xyz', query: { limit: 5, offset: undefined } });
    assert.throws(() => missing.result(), (e: unknown) => e instanceof NotFoundError && e.status === 404 && e instanceof TinkerError);
    await assert.rejects(missing.future(), NotFoundError);
    const [sent] = await h.peer.requests('training_runs/xyz');
    assert.equal(sent!.url, '/api/v1/training_runs/xyz?limit=5');
    await assert.rejects(h.runtime.request({ method: 'POST', path: 'broken', body: {} }, { maxRetries: 1 }).future(), InternalServerError);
    const failed = h.runtime.submit({ path: 'optim_step', body: {}, requestType: 'OptimStep', resultKind: 'json' });
    assert.throws(() => failed.result(), (e: unknown) => e instanceof RequestFailedError && e.category === 'user');
  } finally {
    await h.close();
  }
});

test('a call that makes no progress logs why it waits', async () => {
  const h = await harness(
    {
      routes: {
        optim_step: [{ body: { request_id: 'r1' } }],
        retrieve_future: Array.from({ length: 40 }, () => ({ body: { type: 'try_again', queue_state: 'paused_capacity', queue_state_reason: 'cluster full' }, delayMs: 20 })),
      },
      defaults: { retrieve_future: { body: { ok: true } } },
    },
    { stallWarningMs: 100 },
  );
  try {
    await h.runtime.submit({ path: 'optim_step', body: {}, requestType: 'OptimStep', resultKind: 'json' });
    const w = h.warnings.find((x) => /still waiting/.test(x));
    assert.ok(w, h.warnings.join('\n'));
    assert.match(w!, /r1/);
    assert.match(w!, /paused_capacity/);
    assert.match(w!, /cluster full/);
    assert.match(w!, /polls=\d+/);
  } finally {
    await h.close();
  }
});

test('bootstrap sends client/config and create_session as the official SDK does', async () => {
  const h = await harness({}, { tags: ['a', 'b'], projectId: 'p1', userMetadata: { k: 'v' } });
  try {
    const cfg = await h.runtime.serverConfig();
    assert.equal(cfg.fwdbwd_max_chunk_len, 1024); // defaults filled in
    assert.equal((await h.runtime.dynamicConfig()).refresh_interval_sec, 300);
    await h.runtime.sessionId();
    const [config] = await h.peer.requests('client/config');
    assert.match(String((config!.json as { sdk_version: string }).sdk_version), /^\d+\.\d+\.\d+/);
    assert.match(config!.headers['user-agent']!, /Tinker\/TypeScript/);
    assert.equal(config!.headers['x-stainless-package-version'], (config!.json as { sdk_version: string }).sdk_version);
    const [session] = await h.peer.requests('create_session');
    assert.deepEqual(session!.json, {
      tags: ['a', 'b'], user_metadata: { k: 'v' }, sdk_version: (config!.json as { sdk_version: string }).sdk_version, project_id: 'p1', type: 'create_session',
    });
    assert.equal((await h.peer.requests('client/dynamic_config')).length, 1);
    assert.equal(await h.runtime.sessionId(), 'session-1');
    assert.equal((await h.peer.requests('create_session')).length, 1, 'one session per runtime');
  } finally {
    await h.close();
  }
});

test('a 404 from client/dynamic_config falls back to defaults', async () => {
  const h = await harness({ defaults: { 'client/dynamic_config': { status: 404 } } });
  try {
    assert.equal(await h.runtime.sessionId(), 'session-1');
  } finally {
    await h.close();
  }
});

test('with pjwt_auth_enabled the key is traded for a JWT used on every later request', async () => {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const jwt = `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify({ exp })).toString('base64url')}.sig`;
  const h = await harness({ routes: { 'client/config': [{ body: { pjwt_auth_enabled: true } }], 'auth/token': [{ body: { jwt } }] }, defaults: { healthz: { body: { status: 'ok' } } } });
  try {
    await h.runtime.request({ method: 'GET', path: 'healthz' });
    const [exchange] = await h.peer.requests('auth/token');
    assert.equal(exchange!.headers['x-api-key'], 'tml-test');
    const [health] = await h.peer.requests('healthz');
    assert.equal(health!.headers['x-api-key'], jwt);
  } finally {
    await h.close();
  }
});

test('a key without tml- or eyJ prefix is refused with a clear error', async () => {
  const h = await harness({}, { apiKey: 'sk-wrong' });
  try {
    await assert.rejects(h.runtime.sessionId().future(), (e: unknown) => e instanceof TinkerError && /'tml-'/.test(e.message));
    assert.equal((await h.peer.requests()).length, 0);
  } finally {
    await h.close();
  }
});

test('with an injected fetch the runtime runs inline: await works, result() explains it cannot block', async () => {
  const peer = await startFakePeer({ defaults: { healthz: { body: { status: 'ok' } } } });
  let fetched = 0;
  const rt = Runtime.create({ baseURL: peer.baseURL, apiKey: 'tml-x', fetch: (u, i) => (fetched++, fetch(u, i)), logger: { warn() {}, info() {} } });
  try {
    const f = rt.request<{ status: string }>({ method: 'GET', path: 'healthz' });
    assert.throws(() => f.result(), /custom fetch/);
    assert.deepEqual(await f, { status: 'ok' });
    assert.equal(f.result(), f.result()); // settled futures still read synchronously
    assert.ok(fetched >= 3);
  } finally {
    await rt.close();
    await peer.close();
  }
});

test('the network thread does not keep the process alive', async () => {
  const peer = await startFakePeer({ routes: { optim_step: [{ body: { request_id: 'r' } }], retrieve_future: [{ body: { x: 1 }, delayMs: 200 }] } });
  try {
    const runtimeUrl = new URL('./runtime.js', import.meta.url).href;
    const script = `
      import { Runtime } from ${JSON.stringify(runtimeUrl)};
      const rt = Runtime.create({ baseURL: ${JSON.stringify(peer.baseURL)}, apiKey: 'tml-x', timing: { heartbeatIntervalMs: 20 } });
      await rt.sessionId();
      const v = await rt.submit({ path: 'optim_step', body: {}, requestType: 'OptimStep', resultKind: 'json' });
      console.log(JSON.stringify(v));
      // no close(): heartbeats are running, the process must still end
    `;
    const t0 = Date.now();
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout.trim(), '{"x":1}');
    assert.ok(Date.now() - t0 < 5000);
  } finally {
    await peer.close();
  }
});

test('a missing embedded server explains how to configure one', async () => {
  const { resolveServerAddress } = await import('./credentials.js');
  const saved = process.env['TINKER_BASE_URL'];
  delete process.env['TINKER_BASE_URL'];
  try {
    await assert.rejects(resolveServerAddress(undefined, '@tinker-ts/no-such-server/embedded'), (e: unknown) =>
      e instanceof TinkerError && /TINKER_BASE_URL/.test(e.message) && /@tinker-ts\/server/.test(e.message));
  } finally {
    if (saved !== undefined) process.env['TINKER_BASE_URL'] = saved;
  }
});

test('send order holds with zstd-compressed protobuf submits between JSON requests', async () => {
  const body = (i: number) => ({ model_id: 'm', seq_id: i, forward_backward_input: { loss_fn: 'cross_entropy', data: [] } });
  const h = await harness({
    routes: { 'client/config': [{ body: { proto_compress_fwdbwd: true } }] },
    defaults: { forward_backward: { body: { request_id: 'f' } }, echo: { body: {} }, retrieve_future: { body: { ok: 1 } } },
  });
  try {
    const fs: APIFuture<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      fs.push(i % 3 === 0
        ? h.runtime.submit({ path: 'forward_backward', body: body(i), requestType: 'ForwardBackward', resultKind: 'json', proto: 'ForwardBackwardRequest' })
        : h.runtime.request({ method: 'POST', path: 'echo', body: { i } }));
    }
    await APIFuture.all(fs);
    const { decodeForwardBackwardRequest, zstdDecompress } = await import('@tinker-ts/protocol');
    const order: number[] = [];
    for (const r of (await h.peer.requests()).filter((r) => r.route === 'echo' || r.route === 'forward_backward')) {
      if (r.route === 'echo') order.push((r.json as { i: number }).i);
      else order.push(decodeForwardBackwardRequest(await zstdDecompress(Uint8Array.from(r.bytes))).seq_id ?? 0);
    }
    assert.deepEqual(order, [...Array(20).keys()]);
  } finally {
    await h.close();
  }
});

test('connection failures are retried, then end in APIConnectionError', async () => {
  const { APIConnectionError } = await import('../errors.js');
  const peer = await startFakePeer();
  const dead = peer.baseURL;
  await peer.close(); // nothing listens there any more
  const rt = Runtime.create({ baseURL: dead, apiKey: 'tml-x', maxRetries: 2, timing: { backoffUnitMs: 5, submitRetryWindowMs: 200 }, logger: { warn() {}, info() {} } });
  try {
    const t0 = Date.now();
    assert.throws(() => rt.serverConfig().result(5000), APIConnectionError);
    assert.ok(Date.now() - t0 < 3000);
  } finally {
    await rt.close();
  }
});

test('dynamic config is refreshed every refresh_interval_sec', async () => {
  const h = await harness({ defaults: { 'client/dynamic_config': { body: { refresh_interval_sec: 0.05 } } } }, { timing: { minDynamicConfigRefreshMs: 10 } });
  try {
    await h.runtime.serverConfig();
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await h.peer.requests('client/dynamic_config')).length >= 3);
  } finally {
    await h.close();
  }
});

test('close() fails pending calls and later calls, and ends the runtime', async () => {
  const h = await harness({ routes: { optim_step: [{ body: { request_id: 'r1' } }] }, defaults: { retrieve_future: { ...tryAgain, delayMs: 10 } } });
  const f = h.runtime.submit({ path: 'optim_step', body: {}, requestType: 'OptimStep', resultKind: 'json' });
  await new Promise((r) => setTimeout(r, 50));
  await h.close();
  await assert.rejects(f.future(), /closed/);
  await assert.rejects(h.runtime.request({ method: 'GET', path: 'healthz' }).future(), /closed/);
});

test('pending and later calls fail when the network thread dies', async () => {
  const h = await harness({ routes: { optim_step: [{ body: { request_id: 'r1' } }] }, defaults: { retrieve_future: { ...tryAgain, delayMs: 20 } } });
  try {
    await h.runtime.serverConfig();
    const f = h.runtime.submit({ path: 'optim_step', body: {}, requestType: 'OptimStep', resultKind: 'json' });
    const worker = (h.runtime as unknown as { link: { worker: { terminate(): Promise<number> } } }).link.worker;
    void worker.terminate();
    await assert.rejects(f.future(), (e: unknown) => e instanceof TinkerError && /network thread exited/.test(e.message));
    assert.throws(() => f.result(), /network thread exited/);
    await assert.rejects(h.runtime.request({ method: 'GET', path: 'healthz' }).future(), /network thread/);
  } finally {
    await h.close();
  }
});

test('a caller blocked in result() hears at once of a network thread that exits', async () => {
  const peer = await startFakePeer({ routes: { optim_step: [{ body: { request_id: 'r1' } }] }, defaults: { retrieve_future: { ...tryAgain, delayMs: 20 } } });
  try {
    const runtimeUrl = new URL('./runtime.js', import.meta.url).href;
    // Loaded in every thread of the child: in the network thread, some code calls process.exit().
    const preload = `data:text/javascript,${encodeURIComponent("import { isMainThread } from 'node:worker_threads'; if (!isMainThread) setTimeout(() => process.exit(7), 300);")}`;
    const script = `
      import { Runtime } from ${JSON.stringify(runtimeUrl)};
      const rt = Runtime.create({ baseURL: ${JSON.stringify(peer.baseURL)}, apiKey: 'tml-x', logger: { warn() {}, info() {} } });
      const f = rt.submit({ path: 'optim_step', body: {}, requestType: 'OptimStep', resultKind: 'json' });
      try {
        f.result(); // no timeout: the future never completes, so only the exit can end this
        console.log('completed?');
      } catch (e) {
        console.log(e.constructor.name + ': ' + e.message);
      }
      process.exit(0);
    `;
    const t0 = Date.now();
    const out = spawnSync(process.execPath, ['--import', preload, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(out.status, 0, `status ${out.status} ${out.signal ?? ''}: ${out.stderr}`);
    assert.match(out.stdout.trim(), /^TinkerError: the network thread exited \(while a caller was blocked in result\(\)\)$/);
    assert.ok(Date.now() - t0 < 10_000);
  } finally {
    await peer.close();
  }
});

test('a JWT close to expiry is refreshed before it is sent', async () => {
  const jwt = (secs: number, n: number) => `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + secs, n })).toString('base64url')}.sig`;
  const soon = jwt(30, 1);
  const fresh = jwt(3600, 2);
  const h = await harness({
    routes: { 'client/config': [{ body: { pjwt_auth_enabled: true } }], 'auth/token': [{ body: { jwt: soon } }, { body: { jwt: fresh } }] },
    defaults: { healthz: { body: { status: 'ok' } } },
  });
  try {
    await h.runtime.request({ method: 'GET', path: 'healthz' });
    assert.equal((await h.peer.requests('auth/token')).length, 2);
    const [health] = await h.peer.requests('healthz');
    assert.equal(health!.headers['x-api-key'], fresh);
  } finally {
    await h.close();
  }
});

test('timeoutMs also ends a call still waiting for the bootstrap', async () => {
  const h = await harness({ routes: { 'client/config': [{ body: {}, delayMs: 1500 }] } });
  try {
    const t0 = Date.now();
    await assert.rejects(h.runtime.request({ method: 'GET', path: 'healthz' }, { timeoutMs: 100 }).future(), APIConnectionTimeoutError);
    assert.ok(Date.now() - t0 < 1000);
  } finally {
    await h.close();
  }
});

test('long polls do not starve submits or heartbeats of connections', async () => {
  // 80 futures whose polls the server holds for 3 s each: more than the request pool's sockets.
  const n = 80;
  const h = await harness({
    routes: { optim_step: Array.from({ length: n + 1 }, (_, i) => ({ body: { request_id: `r${i}` } })) },
    defaults: { retrieve_future: { body: { ok: true }, delayMs: 3000 }, echo: { body: { ok: true } } },
  }, { timing: { pollTimeoutMs: 20_000 } });
  try {
    await h.runtime.sessionId();
    const fs = Array.from({ length: n }, () => h.runtime.submit({ path: 'optim_step', body: {}, requestType: 'OptimStep', resultKind: 'json' }));
    await new Promise((r) => setTimeout(r, 200)); // all polls are now held by the server
    const t0 = Date.now();
    await h.runtime.request({ method: 'POST', path: 'echo', body: {} });
    assert.ok(Date.now() - t0 < 2000, `a request waited ${Date.now() - t0} ms behind long polls`);
    await APIFuture.all(fs);
    // Heartbeats sent while every poll was still held by the server (they are released ~2.8 s after t0).
    const beats = (await h.peer.requests('session_heartbeat')).filter((r) => r.at >= t0 && r.at < t0 + 2500);
    assert.ok(beats.length >= 2, `only ${beats.length} heartbeats while the long polls were held`);
  } finally {
    await h.close();
  }
});
