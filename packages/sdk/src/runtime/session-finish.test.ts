// close() ends the session on the server (sessions/{id}/finish) before heartbeats stop — best
// effort: bounded in time, and whatever the server answers, close() resolves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from './testing/harness.js';

test('close() finishes the session on the server, then heartbeats stop', async () => {
  const h = await harness({ defaults: { 'sessions/session-1/finish': { body: { session_id: 'session-1', status: 'finished' } } } });
  try {
    await h.runtime.sessionId();
    await new Promise((r) => setTimeout(r, 100)); // a few heartbeats
    await h.runtime.close();
    const finishes = await h.peer.requests('sessions/session-1/finish');
    assert.equal(finishes.length, 1);
    assert.equal(finishes[0]!.method, 'POST');
    const closedAt = Date.now();
    await new Promise((r) => setTimeout(r, 150));
    const late = (await h.peer.requests('session_heartbeat')).filter((r) => r.at > closedAt);
    assert.equal(late.length, 0, 'heartbeats continued after close()');
    assert.deepEqual(h.warnings, []);
  } finally {
    await h.close();
  }
});

test('close() without a session contacts nothing', async () => {
  const h = await harness();
  try {
    await h.runtime.serverConfig();
    await h.runtime.close();
    const routes = (await h.peer.requests()).map((r) => r.route);
    assert.ok(!routes.some((r) => r.startsWith('sessions/')), routes.join(', '));
  } finally {
    await h.close();
  }
});

test('close() accepts a 404 (a server without the route) and a 500 without a warning', async () => {
  for (const status of [404, 500]) {
    const h = await harness({ defaults: { 'sessions/session-1/finish': { status, body: { detail: 'no' } } } });
    try {
      await h.runtime.sessionId();
      await h.runtime.close();
      assert.equal((await h.peer.requests('sessions/session-1/finish')).length, 1);
      assert.deepEqual(h.warnings, [], `HTTP ${status}`);
    } finally {
      await h.close();
    }
  }
});

test('close() gives up on a server that does not answer the finish within sessionFinishTimeoutMs', async () => {
  const h = await harness(
    { defaults: { 'sessions/session-1/finish': { body: {}, delayMs: 5_000 } } },
    { timing: { sessionFinishTimeoutMs: 200 } },
  );
  try {
    await h.runtime.sessionId();
    const t0 = Date.now();
    await h.runtime.close();
    const took = Date.now() - t0;
    assert.ok(took >= 150 && took < 1_000, `close() took ${took} ms`);
  } finally {
    await h.close();
  }
});

test('close() while create_session is still in flight finishes the session once it exists', async () => {
  const h = await harness({ routes: { create_session: [{ body: { session_id: 'session-9' }, delayMs: 150 }] } });
  try {
    const session = h.runtime.sessionId();
    while ((await h.peer.requests('create_session')).length === 0) await new Promise((r) => setTimeout(r, 5));
    await h.runtime.close();
    await assert.rejects(session.future());
    assert.equal((await h.peer.requests('sessions/session-9/finish')).length, 1);
  } finally {
    await h.close();
  }
});
