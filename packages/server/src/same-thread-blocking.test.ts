/**
 * result() against a server started with startServer on the same thread would wait forever (the
 * server answers on the event loop result() stops): it throws at once saying so, while `await`
 * against the same server works and a server in another process is blocked on as usual.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServiceClient, TinkerError } from '@tinker-ts/sdk';
import { startServer } from './server.js';

test('result() against a server on this thread throws at once; await works; close() unlists it', { timeout: 60_000 }, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-same-thread-'));
  const server = await startServer({ dataDir, port: 0 });
  const clients = [server.url, server.url.replace('127.0.0.1', 'localhost')].map(
    (baseURL) => new ServiceClient({ baseURL, apiKey: 'tml-same-thread', logger: { warn() {}, info() {} } }),
  );
  try {
    for (const sc of clients) {
      const t0 = Date.now();
      assert.throws(() => sc.getServerCapabilities().result(), (e: unknown) => e instanceof TinkerError && /runs on this thread/.test(e.message) && e.message.includes(server.url));
      assert.ok(Date.now() - t0 < 1000, `threw after ${Date.now() - t0} ms`);
      const f = sc.getServerCapabilities();
      assert.ok((await f).supportedModels.length > 0);
      assert.ok(f.result().supportedModels.length > 0); // a settled future returns as always
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  }
  // Closed, the server is no longer listed: blocking now fails for the real reason (nothing listens).
  const after = new ServiceClient({ baseURL: server.url, apiKey: 'tml-same-thread', connectTimeoutMs: 200, logger: { warn() {}, info() {} } });
  try {
    assert.throws(() => after.getServerCapabilities().result(10_000), (e: unknown) => e instanceof TinkerError && /ECONNREFUSED/.test(e.message));
  } finally {
    await after.close();
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});
