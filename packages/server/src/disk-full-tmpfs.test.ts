/**
 * A really full disk: the data dir on a small tmpfs filled to the last byte while requests
 * finish. Needs to mount a tmpfs (root on Linux); skipped where that is not possible. The same
 * guarantees as disk-full.test.ts, through the file system's own ENOSPC: every future reaches a
 * readable state, a save fails cleanly, and everything is recorded once space is freed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeForwardBackwardOutput, type ForwardBackwardRequest } from '@tinker-ts/protocol';
import { startServer } from './server.js';
import { nextTokenDatum, TestClient } from './testkit.js';

function tryMountTmpfs(dir: string, size: string): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Writes a file until the file system is full. */
function fillUp(file: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (let chunk = 1 << 20; chunk >= 512; chunk >>= 1) {
      const buf = Buffer.alloc(chunk, 1);
      for (;;) {
        try {
          fs.writeSync(fd, buf);
        } catch (err) {
          assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
          break;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

test('with the data dir on a full tmpfs, futures finish, a save fails cleanly, and all is recorded once space is freed', async (t) => {
  const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-server-tmpfs-'));
  if (!tryMountTmpfs(mountPoint, '24m')) {
    fs.rmSync(mountPoint, { recursive: true, force: true });
    t.skip('cannot mount a tmpfs here (needs root on Linux)');
    return;
  }
  const dataDir = path.join(mountPoint, 'data');
  const filler = path.join(mountPoint, 'filler');
  const server = await startServer({ dataDir, port: 0, settings: { longPollMs: 200 }, log: () => {} });
  try {
    const client = new TestClient(server.url);
    const sessionId = await client.createSession();
    const modelId = await client.createModel(sessionId, 0);
    const tokens = Array.from({ length: 1200 }, (_, i) => (i * 7919) % 5000);
    const fbReq: ForwardBackwardRequest = {
      forward_backward_input: { data: [nextTokenDatum(tokens)], loss_fn: 'cross_entropy', loss_fn_config: null },
      model_id: modelId,
      seq_id: 2,
      forward_only: false,
    };
    // Acknowledged with room to spare, held back behind seq_id 1, finished on a full disk.
    const fb = (await client.forwardBackwardProto(fbReq)).json.request_id as string;
    const save = (await client.post('save_weights', { model_id: modelId, path: 'on-a-full-disk', seq_id: 3 })).request_id as string;
    fillUp(filler);
    server.ctx.queues.skip(modelId, 1);

    const served = await client.retrieveRaw(fb, { protobuf: true, timeoutMs: 20_000 });
    assert.match(served.contentType, /protobuf/, Buffer.from(served.body).toString('utf8'));
    const out = decodeForwardBackwardOutput(served.body);
    const failed = await client.retrieveRaw(save, { timeoutMs: 20_000 });
    assert.equal(failed.json.category, 'server', JSON.stringify(failed.json));
    const weightsDir = path.join(dataDir, 'checkpoints', modelId, 'weights');
    assert.deepEqual(fs.existsSync(weightsDir) ? fs.readdirSync(weightsDir) : [], [], 'nothing of the save is left');

    fs.rmSync(filler);
    const deadline = Date.now() + 15_000;
    while (server.ctx.futures.unwrittenCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(server.ctx.futures.unwrittenCount, 0);
    assert.equal(server.ctx.store.futures.get(fb)!.state, 'done');
    assert.deepEqual((await client.forwardBackwardResult(fb)).metrics, out.metrics);
    assert.equal(server.ctx.store.futures.get(save)!.state, 'failed');

    // Space again: the model saves.
    const again = await client.result((await client.post('save_weights', { model_id: modelId, path: 'with-room', seq_id: 4 })).request_id);
    assert.ok(server.ctx.store.checkpoints.get(modelId, 'weights', 'with-room'), again.path);
  } finally {
    await server.close();
    execFileSync('umount', [mountPoint], { stdio: 'ignore' });
    fs.rmSync(mountPoint, { recursive: true, force: true });
  }
});
