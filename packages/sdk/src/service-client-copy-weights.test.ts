// ServiceClient.copyWeights on the wire: one synchronous copy_weights request numbered like a new
// training client of the session, answered with the copy's tinker:// path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TinkerError, ValidationError } from './errors.js';
import { ServiceClient } from './service-client.js';
import { FAST_TIMING } from './runtime/testing/harness.js';
import { startFakePeer, type PeerScript } from './runtime/testing/fake-peer.js';

async function withClient(script: PeerScript, fn: (sc: ServiceClient, peer: Awaited<ReturnType<typeof startFakePeer>>) => Promise<void>): Promise<void> {
  const peer = await startFakePeer(script);
  const sc = new ServiceClient({ baseURL: peer.baseURL, apiKey: 'tml-test', timing: FAST_TIMING, logger: { warn() {}, info() {} } });
  try {
    await fn(sc, peer);
  } finally {
    await sc.close();
    await peer.close();
  }
}

test('copyWeights posts copy_weights with the session, a model_seq_id and the TTL, and returns the new path', async () => {
  await withClient({ defaults: { copy_weights: { body: { tinker_path: 'tinker://session-1:train:0/weights/w' } } } }, async (sc, peer) => {
    const path = await sc.copyWeights('tinker://run-a/weights/w', { ttlSeconds: 60, weightsAccessToken: 'tok' });
    assert.equal(path, 'tinker://session-1:train:0/weights/w');
    const second = await sc.copyWeights('tinker://run-a/sampler_weights/s');
    assert.equal(second, 'tinker://session-1:train:0/weights/w');
    const sent = (await peer.requests('copy_weights')).map((r) => r.json);
    assert.deepEqual(sent, [
      { session_id: 'session-1', model_seq_id: 0, source_path: 'tinker://run-a/weights/w', ttl_seconds: 60, weights_access_token: 'tok' },
      { session_id: 'session-1', model_seq_id: 1, source_path: 'tinker://run-a/sampler_weights/s', ttl_seconds: null },
    ]);
  });
});

test('copyWeights refuses bad arguments before sending anything, and a malformed answer after', async () => {
  await withClient({ defaults: { copy_weights: { body: { path: 'wrong-field' } } } }, async (sc, peer) => {
    assert.throws(() => sc.copyWeights(''), ValidationError);
    assert.throws(() => sc.copyWeights('tinker://run-a/weights/w', { ttlSeconds: -5 }), (e: unknown) => e instanceof ValidationError && e.field === 'ttl_seconds');
    assert.throws(() => sc.copyWeights('tinker://run-a/weights/w', { weightsAccessToken: '' }), ValidationError);
    assert.equal((await peer.requests('copy_weights')).length, 0);
    await assert.rejects(sc.copyWeights('tinker://run-a/weights/w').future(), (e: unknown) => e instanceof TinkerError && /tinker_path/.test(e.message));
  });
});
