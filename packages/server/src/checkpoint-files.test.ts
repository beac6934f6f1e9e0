/**
 * Atomic checkpoint writes: a finished write appears complete under its final name; a failed
 * one leaves nothing behind; overwrite replaces; leftovers of a crash are swept at startup.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CheckpointFiles } from './checkpoint-files.js';

function tempRoot(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-ckpt-files-'));
}

test('a completed write is renamed into place with its size', async () => {
  const root = tempRoot();
  const files = new CheckpointFiles(root);
  const { dir, sizeBytes } = await files.writeAtomically('run:train:0', 'weights', 'step-1', async (tmp) => {
    fs.mkdirSync(tmp);
    fs.writeFileSync(path.join(tmp, 'a.bin'), Buffer.alloc(100));
    fs.writeFileSync(path.join(tmp, 'b.json'), '{}');
  }, { overwrite: false });
  assert.equal(dir, path.join(root, 'run:train:0', 'weights', 'step-1'));
  assert.equal(sizeBytes, 102);
  assert.deepEqual(fs.readdirSync(path.dirname(dir)), ['step-1']);
  await assert.rejects(
    files.writeAtomically('run:train:0', 'weights', 'step-1', async (tmp) => fs.mkdirSync(tmp), { overwrite: false }),
    /already exists/,
  );
  await files.writeAtomically('run:train:0', 'weights', 'step-1', async (tmp) => {
    fs.mkdirSync(tmp);
    fs.writeFileSync(path.join(tmp, 'c.bin'), 'new');
  }, { overwrite: true });
  assert.deepEqual(fs.readdirSync(dir), ['c.bin']);
  assert.deepEqual(fs.readdirSync(path.dirname(dir)), ['step-1']);
  fs.rmSync(root, { recursive: true, force: true });
});

test('a failed write leaves no directory behind', async () => {
  const root = tempRoot();
  const files = new CheckpointFiles(root);
  await assert.rejects(
    files.writeAtomically('r', 'sampler_weights', 's', async (tmp) => {
      fs.mkdirSync(tmp);
      fs.writeFileSync(path.join(tmp, 'half'), 'x');
      throw new Error('disk full');
    }, { overwrite: false }),
    /disk full/,
  );
  assert.deepEqual(fs.readdirSync(path.join(root, 'r', 'sampler_weights')), []);
  assert.equal(files.exists('r', 'sampler_weights', 's'), false);
  fs.rmSync(root, { recursive: true, force: true });
});

test('temporaries left by a crash are removed; deletes stay inside the root', async () => {
  const root = tempRoot();
  const files = new CheckpointFiles(root);
  fs.mkdirSync(path.join(root, 'r', 'weights', '.tmp-x-123'), { recursive: true });
  fs.mkdirSync(path.join(root, 'r', 'weights', 'kept'), { recursive: true });
  assert.equal(await files.removeStaleTemporaries(), 1);
  assert.deepEqual(fs.readdirSync(path.join(root, 'r', 'weights')), ['kept']);
  await assert.rejects(files.remove(os.tmpdir()), /refusing/);
  fs.rmSync(root, { recursive: true, force: true });
});
