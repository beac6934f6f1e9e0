/**
 * WAL checkpoints from the background thread: commits on the request connection never
 * checkpoint, the thread moves committed pages into the database file, and if the thread cannot
 * run the request connection checkpoints for itself again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Store } from './store.js';
import { WalCheckpointer } from './wal-checkpointer.js';

function tempFile(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-wal-')), 'db.sqlite');
}

/** Commits enough sessions to fill a few thousand WAL pages. */
function writeMany(store: Store, n: number, prefix = 's'): void {
  const pad = 'x'.repeat(3000);
  for (let i = 0; i < n; i++) {
    store.sessions.insert({ session_id: `${prefix}${i}`, owner: 'u', tags: [pad], user_metadata: null, sdk_version: null, project_id: null, now: i });
  }
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

test('commits leave the WAL alone; the background thread copies it into the database file', async () => {
  const file = tempFile();
  const store = new Store(file);
  // An interval longer than the test: only stop() (its last checkpoint) moves pages.
  const idle = WalCheckpointer.start(store, file, 3_600_000);
  assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 0);
  const before = fs.statSync(file).size;
  writeMany(store, 3000); // ~3000 pages: SQLite alone would have checkpointed inside these commits
  assert.equal(fs.statSync(file).size, before, 'no commit checkpointed');
  await idle.stop();
  await idle.stop(); // idempotent
  const afterStop = fs.statSync(file).size;
  assert.ok(afterStop > before + 4_000_000, `the last checkpoint moved the pages (${before} → ${afterStop} bytes)`);

  // On its timer, with the store still open.
  const ticking = WalCheckpointer.start(store, file, 50);
  writeMany(store, 2000, 't');
  assert.ok(await waitFor(() => fs.statSync(file).size > afterStop, 10_000), 'the thread checkpointed on its own');
  await ticking.stop();
  assert.equal(ticking.fellBack, false);
  store.close();
  const reopened = new Store(file);
  assert.equal(reopened.sessions.get('s2999')?.owner, 'u');
  reopened.close();
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});

test('when the thread cannot run, the request connection checkpoints on commit again', async () => {
  const file = tempFile();
  const store = new Store(file);
  const lines: string[] = [];
  // The thread opens its own connection with fileMustExist: a missing file makes it fail.
  const checkpointer = WalCheckpointer.start(store, `${file}.missing`, 50, (l) => lines.push(l));
  assert.ok(await waitFor(() => checkpointer.fellBack, 10_000), 'fell back');
  assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 1000);
  assert.match(lines.join('\n'), /WAL checkpoint thread (failed|exited).*checkpoints on commit again/);
  await checkpointer.stop();
  store.close();
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});
