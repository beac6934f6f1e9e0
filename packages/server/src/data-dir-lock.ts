/**
 * One server per data directory. A second server on the same directory would treat the first
 * one's live models and in-flight requests as left over from a crash (failing and losing them),
 * so startup takes `<dataDir>/data-dir.lock`, holding the owner's pid. A lock whose process is
 * gone (e.g. after SIGKILL) is taken over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TinkerError } from '@tinker-ts/protocol';

export const LOCK_FILE = 'data-dir.lock';

/** Another server holds the data dir: the caller's to resolve (category "user"). */
export class DataDirInUseError extends TinkerError {
  constructor(readonly dataDir: string, readonly pid: number) {
    super(`data dir ${dataDir} is in use by another tinker-ts server (pid ${pid}); stop it or use another data dir`, { category: 'user' });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** In-process holders, so a second server in the same process is refused too. */
const heldHere = new Set<string>();

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  const file = path.join(path.resolve(dataDir), LOCK_FILE);
  if (heldHere.has(file)) throw new DataDirInUseError(dataDir, process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      heldHere.add(file);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          heldHere.delete(file);
          fs.rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw new DataDirInUseError(dataDir, pid);
      fs.rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`could not lock data dir ${dataDir}`);
}

/**
 * Waits (polling, up to `timeoutMs`) while another live process holds the lock, e.g. a server
 * that is still shutting down after its program exited. Returns whether the lock is free now.
 */
export async function waitForDataDirRelease(dataDir: string, timeoutMs: number): Promise<boolean> {
  const file = path.join(path.resolve(dataDir), LOCK_FILE);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let pid = NaN;
    try {
      pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    } catch {
      return true; // no lock file
    }
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !alive(pid)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
