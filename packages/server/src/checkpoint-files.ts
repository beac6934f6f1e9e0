/**
 * Checkpoint directories on disk: `<root>/<run_id>/{weights|sampler_weights}/<name>/`.
 *
 * A checkpoint is written into a temporary sibling directory, every file and the directory
 * are fsync'ed, and only then is it renamed into place (and the parent fsync'ed), so a crash
 * leaves either no checkpoint or a complete one — never a half-written directory under the
 * final name. The database record is committed after the rename.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { CheckpointKind } from './store/rows.js';

const TMP_PREFIX = '.tmp-';
const TRASH_PREFIX = '.trash-';

async function fsyncPath(p: string, isDir: boolean): Promise<void> {
  const handle = await fsp.open(p, isDir ? fs.constants.O_RDONLY | fs.constants.O_DIRECTORY : fs.constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs every file under `dir`, then the directories bottom-up; returns the total size. */
async function fsyncTree(dir: string): Promise<number> {
  let size = 0;
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      size += await fsyncTree(p);
    } else if (entry.isFile()) {
      size += (await fsp.stat(p)).size;
      await fsyncPath(p, false);
    }
  }
  await fsyncPath(dir, true);
  return size;
}

export async function directorySize(dir: string): Promise<number> {
  let size = 0;
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) size += await directorySize(p);
    else if (entry.isFile()) size += (await fsp.stat(p)).size;
  }
  return size;
}

/** A checkpoint moved into place whose record is not committed yet (see writeStaged). */
export interface StagedCheckpoint {
  dir: string;
  sizeBytes: number;
  keep(): Promise<void>;
  undo(): Promise<void>;
}

export class CheckpointFiles {
  constructor(readonly root: string) {}

  dirFor(runId: string, kind: CheckpointKind, name: string): string {
    return path.join(this.root, runId, kind, name);
  }

  /**
   * Runs `write(tmpDir)` (which must create files in the given, not yet existing, directory),
   * makes the result durable and moves it to its final place. With `overwrite`, an existing
   * checkpoint of that name is replaced; otherwise it is an error the caller should have
   * checked first (`exists`).
   */
  async writeAtomically(
    runId: string,
    kind: CheckpointKind,
    name: string,
    write: (tmpDir: string) => Promise<void>,
    opts: { overwrite: boolean },
  ): Promise<{ dir: string; sizeBytes: number }> {
    const staged = await this.writeStaged(runId, kind, name, write, opts);
    await staged.keep();
    return { dir: staged.dir, sizeBytes: staged.sizeBytes };
  }

  /**
   * As writeAtomically, but the checkpoint it replaced is kept aside until the caller decides:
   * `keep()` once its record is committed, `undo()` if the record could not be (the new
   * directory goes, the replaced one comes back), so what is on disk always matches the record.
   */
  async writeStaged(
    runId: string,
    kind: CheckpointKind,
    name: string,
    write: (tmpDir: string) => Promise<void>,
    opts: { overwrite: boolean },
  ): Promise<StagedCheckpoint> {
    const finalDir = this.dirFor(runId, kind, name);
    const parent = path.dirname(finalDir);
    await fsp.mkdir(parent, { recursive: true });
    const tmpDir = path.join(parent, `${TMP_PREFIX}${name}-${randomUUID()}`);
    let trash: string | null = null;
    let sizeBytes = 0;
    try {
      await write(tmpDir);
      sizeBytes = await fsyncTree(tmpDir);
      if (fs.existsSync(finalDir)) {
        if (!opts.overwrite) throw new Error(`checkpoint directory ${finalDir} already exists`);
        trash = path.join(parent, `${TRASH_PREFIX}${name}-${randomUUID()}`);
        await fsp.rename(finalDir, trash);
      }
      await fsp.rename(tmpDir, finalDir);
      await fsyncPath(parent, true);
    } catch (err) {
      await fsp.rm(tmpDir, { recursive: true, force: true }).catch(() => {});
      if (trash && !fs.existsSync(finalDir)) await fsp.rename(trash, finalDir).catch(() => {});
      throw err;
    }
    const replaced = trash;
    return {
      dir: finalDir,
      sizeBytes,
      keep: async () => {
        if (replaced) await fsp.rm(replaced, { recursive: true, force: true });
      },
      undo: async () => {
        // Out of the final name first (a rename cannot fail for lack of space), then delete.
        const discarded = path.join(parent, `${TRASH_PREFIX}${name}-${randomUUID()}`);
        await fsp.rename(finalDir, discarded);
        if (replaced) await fsp.rename(replaced, finalDir);
        await fsp.rm(discarded, { recursive: true, force: true });
      },
    };
  }

  exists(runId: string, kind: CheckpointKind, name: string): boolean {
    return fs.existsSync(this.dirFor(runId, kind, name));
  }

  /** Copies a finished checkpoint directory to a new place, atomically like a save. */
  async copyInto(sourceDir: string, runId: string, kind: CheckpointKind, name: string): Promise<{ dir: string; sizeBytes: number }> {
    return this.writeAtomically(runId, kind, name, (tmp) => fsp.cp(sourceDir, tmp, { recursive: true }), {
      overwrite: false,
    });
  }

  async remove(dir: string): Promise<void> {
    // Only ever delete inside our own root.
    const rel = path.relative(this.root, dir);
    if (rel.startsWith('..') || path.isAbsolute(rel) || rel === '') throw new Error(`refusing to delete ${dir}`);
    await fsp.rm(dir, { recursive: true, force: true });
  }

  /** Removes a run's directories if nothing is left in them (call only when the run writes no more). */
  async pruneEmptyRun(runId: string): Promise<void> {
    const runDir = path.join(this.root, runId);
    for (const dir of [path.join(runDir, 'weights'), path.join(runDir, 'sampler_weights'), runDir]) {
      await fsp.rmdir(dir).catch(() => {}); // missing or not empty: keep
    }
  }

  /** Deletes every checkpoint directory (and leftover) not in `keep`, then the runs left empty. */
  removeAllExcept(keep: ReadonlySet<string>): Promise<number> {
    return this.removeEntries((_entry, p) => !keep.has(p), true);
  }

  /** Deletes leftovers of writes interrupted by a crash. */
  removeStaleTemporaries(): Promise<number> {
    return this.removeEntries((entry) => entry.startsWith(TMP_PREFIX) || entry.startsWith(TRASH_PREFIX), false);
  }

  /** Deletes the entries of every run's checkpoint folders that `doomed` picks; returns how many. */
  private async removeEntries(doomed: (entry: string, fullPath: string) => boolean, pruneRuns: boolean): Promise<number> {
    let removed = 0;
    if (!fs.existsSync(this.root)) return 0;
    for (const run of await fsp.readdir(this.root, { withFileTypes: true })) {
      if (!run.isDirectory()) continue;
      for (const kind of ['weights', 'sampler_weights']) {
        const dir = path.join(this.root, run.name, kind);
        if (!fs.existsSync(dir)) continue;
        for (const entry of await fsp.readdir(dir)) {
          const p = path.join(dir, entry);
          if (!doomed(entry, p)) continue;
          await fsp.rm(p, { recursive: true, force: true });
          removed++;
        }
      }
      if (pruneRuns) await this.pruneEmptyRun(run.name);
    }
    return removed;
  }
}
