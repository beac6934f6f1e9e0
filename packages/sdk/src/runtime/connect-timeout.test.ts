// A server that has never answered gets a short window, and the error says why (the errno and
// the address); a server that answered once and went away keeps the long submit window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APIConnectionError } from '../errors.js';
import { Runtime } from './runtime.js';
import { FAST_TIMING, harness } from './testing/harness.js';
import { startFakePeer } from './testing/fake-peer.js';

/** An address where nothing listens: a port a peer had, closed again. */
async function deadAddress(): Promise<string> {
  const peer = await startFakePeer();
  await peer.close();
  return peer.baseURL;
}

test('an unreachable server fails within connectTimeoutMs with ECONNREFUSED, named in the first warning too', async () => {
  const dead = await deadAddress();
  const warnings: string[] = [];
  // The long submit window of FAST_TIMING (5 s) would apply without the connect window.
  const rt = Runtime.create({
    baseURL: dead, apiKey: 'tml-x', connectTimeoutMs: 800,
    timing: { ...FAST_TIMING, backoffUnitMs: 50 }, logger: { warn: (m) => warnings.push(m), info() {} },
  });
  try {
    const t0 = Date.now();
    const err = await rt.serverConfig().then(() => assert.fail('resolved'), (e: unknown) => e);
    const elapsed = Date.now() - t0;
    assert.ok(err instanceof APIConnectionError, String(err));
    assert.equal(err.code, 'ECONNREFUSED');
    assert.match(err.message, /ECONNREFUSED/);
    assert.ok(err.message.includes(new URL(dead).host), err.message); // the address it tried
    assert.match(err.message, /never answered/);
    assert.ok(elapsed >= 700 && elapsed < 3000, `failed after ${elapsed} ms`);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /ECONNREFUSED/);
  } finally {
    await rt.close();
  }
});

test('TINKER_CONNECT_TIMEOUT_MS sets the window when no option does', async () => {
  const dead = await deadAddress();
  process.env['TINKER_CONNECT_TIMEOUT_MS'] = '300';
  const rt = Runtime.create({ baseURL: dead, apiKey: 'tml-x', timing: { backoffUnitMs: 50 }, logger: { warn() {}, info() {} } });
  try {
    const t0 = Date.now();
    assert.throws(() => rt.serverConfig().result(10_000), (e: unknown) => e instanceof APIConnectionError && e.code === 'ECONNREFUSED');
    assert.ok(Date.now() - t0 < 2500, `failed after ${Date.now() - t0} ms`);
  } finally {
    delete process.env['TINKER_CONNECT_TIMEOUT_MS'];
    await rt.close();
  }
});

test('an unknown host fails fast naming the DNS error', async () => {
  const rt = Runtime.create({ baseURL: 'http://tinker-ts-test.invalid:8000', apiKey: 'tml-x', connectTimeoutMs: 300, timing: { backoffUnitMs: 50 }, logger: { warn() {}, info() {} } });
  try {
    const err = await rt.serverConfig().then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(err instanceof APIConnectionError, String(err));
    assert.match(err.message, /ENOTFOUND|EAI_AGAIN/);
    assert.match(err.message, /tinker-ts-test\.invalid/);
  } finally {
    await rt.close();
  }
});

test('once the server has answered, connection failures keep the long retry window', async () => {
  const h = await harness({ defaults: { optim_step: { body: { request_id: 'r1' } } } }, { connectTimeoutMs: 100, timing: { submitRetryWindowMs: 1200, backoffUnitMs: 50 } });
  try {
    await h.runtime.serverConfig();
    await h.peer.close(); // the server goes away after answering
    const t0 = Date.now();
    const err = await h.runtime.submit({ path: 'optim_step', body: {}, requestType: 'OptimStep', resultKind: 'json' }).then(() => assert.fail('resolved'), (e: unknown) => e);
    const elapsed = Date.now() - t0;
    assert.ok(err instanceof APIConnectionError, String(err));
    assert.match(err.message, /ECONNREFUSED/);
    assert.ok(elapsed >= 1100, `gave up after ${elapsed} ms, inside the connect window`);
    assert.ok(!h.warnings.some((w) => /Cannot reach/.test(w)), h.warnings.join('\n'));
  } finally {
    await h.runtime.close();
  }
});
