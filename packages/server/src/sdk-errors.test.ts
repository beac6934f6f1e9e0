/**
 * Errors as the SDK's user sees them, over real HTTP and the SDK's network thread: bad input the
 * engine finds fails the future as a RequestFailedError, bad input the server's validation finds
 * is a BadRequestError, both of category "user" and both instances of the one root, rebuilt on
 * the calling thread by the protocol's serialiser (prototype inheritance, no Symbol.hasInstance).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TinkerError as ProtocolRoot } from '@tinker-ts/protocol';
import { APIError, BadRequestError, Datum, RequestFailedError, ServiceClient, TinkerError } from '@tinker-ts/sdk';
import { E2E_API_KEY, E2E_MODEL } from './e2e-testkit.js';
import { startServer, type RunningServer } from './server.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-sdk-errors-'));
let server: RunningServer | undefined;
let sc: ServiceClient | undefined;

after(async () => {
  await sc?.close();
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('engine and validation errors reach the SDK user with category "user", instances of the one root', async () => {
  assert.equal(TinkerError, ProtocolRoot);
  assert.equal(Object.hasOwn(TinkerError, Symbol.hasInstance), false);
  server = await startServer({ dataDir, port: 0, settings: { longPollMs: 2_000 } });
  sc = new ServiceClient({ baseURL: server.url, apiKey: E2E_API_KEY });
  const tc = await sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed: 1 });

  // Only the engine knows the vocabulary: the request is accepted and its future fails.
  const engineError = await tc.forwardBackward([Datum.fromTokens([1, 2, 50_000_000])], 'cross_entropy').then(
    () => assert.fail('a token outside the vocabulary was accepted'),
    (e: unknown) => e,
  );
  assert.ok(engineError instanceof RequestFailedError, `got ${String(engineError)}`);
  assert.ok(engineError instanceof ProtocolRoot);
  assert.equal(engineError.category, 'user');
  assert.match(engineError.message, /outside the vocabulary/);

  // The server's path validation refuses the request with a 400 naming the field.
  const validationError = await sc.createSamplingClient({ modelPath: 'tinker://no..such/sampler_weights/x' }).then(
    () => assert.fail('an unsafe run id was accepted'),
    (e: unknown) => e,
  );
  assert.ok(validationError instanceof BadRequestError, `got ${String(validationError)}`);
  assert.ok(validationError instanceof APIError && validationError instanceof ProtocolRoot);
  assert.equal(validationError.category, 'user');
  assert.equal(validationError.status, 400);
  assert.equal((validationError.body as { field?: string }).field, 'model_path');
  assert.match(validationError.message, /invalid run id/);

  // The same training client goes on.
  await tc.forwardBackward([Datum.fromTokens([1, 2, 3])], 'cross_entropy');
});
