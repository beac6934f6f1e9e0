/**
 * The data dir lock: a second server on a directory in use is refused with a clear error; a
 * lock left by a dead process is taken over; releasing frees the directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataDirInUseError, LOCK_FILE, lockDataDir } from './data-dir-lock.js';

test('a data dir is locked by one server at a time; stale locks are taken over', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-lock-'));
  const lock = lockDataDir(dir);
  assert.throws(() => lockDataDir(dir), DataDirInUseError);
  lock.release();
  assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false);

  // A lock written by a process that has exited.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  fs.writeFileSync(path.join(dir, LOCK_FILE), `${dead.stdout}\n`);
  const again = lockDataDir(dir);
  assert.equal(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8').trim(), String(process.pid));
  again.release();

  // A lock held by a live process (this test's parent stands in for another server).
  fs.writeFileSync(path.join(dir, LOCK_FILE), `${process.ppid}\n`);
  assert.throws(() => lockDataDir(dir), /in use by another tinker-ts server/);
  fs.rmSync(dir, { recursive: true, force: true });
});
