/**
 * The local server the SDK uses when no base URL is configured.
 *
 * `ensureEmbeddedServer({ dataDir })` reuses the server recorded in `<dataDir>/server.json` if
 * its process is alive and answers healthz; otherwise it starts `tinker-ts serve` as a child
 * process on a free loopback port and waits until it listens. A lock file makes concurrent
 * callers (threads or processes) start at most one server per data directory.
 *
 * The child never outlives the process that started it: it is killed on exit, and it watches
 * both that process's pid and a stdin pipe whose other end closes however the parent dies.
 * Other processes reusing it lose it when that first process exits (and start a new one on
 * their next ensureEmbeddedServer call).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
// Only light modules here: the SDK imports this file in user processes, which must not load the engine.
import { READY_LINE_PREFIX, defaultDataDir, liveServer, localApiKey, pidAlive } from './server-file.js';
import { nodeExecutable } from './node-executable.js';

export interface EmbeddedServerOptions {
  /** Default: TINKER_HOME or ~/.tinker-ts. */
  dataDir?: string;
  /** How long to wait for a new server to listen (default 120 s). */
  startTimeoutMs?: number;
  /** Where the one startup notice goes (default stderr). */
  log?: (line: string) => void;
}

export interface EmbeddedServer {
  baseURL: string;
  apiKey: string;
}

const LOCK_FILE = 'server.lock';
const LOG_FILE = 'server.log';
/** A lock older than this whose owner is gone, or that is simply ancient, is stale. */
const STALE_LOCK_MS = 5 * 60_000;

const CLI_PATH = fileURLToPath(new URL('./cli/main.js', import.meta.url));

/** Servers this process started, by data directory. */
const started = new Map<string, { child: ChildProcess; url: string }>();
/** Calls in flight in this process, by data directory (one start at a time). */
const pending = new Map<string, Promise<EmbeddedServer>>();

export function ensureEmbeddedServer(opts: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  const dataDir = path.resolve(opts.dataDir ?? defaultDataDir());
  let p = pending.get(dataDir);
  if (!p) {
    p = ensure(dataDir, opts).finally(() => pending.delete(dataDir));
    pending.set(dataDir, p);
  }
  return p;
}

/** The local server already running for `dataDir` (default TINKER_HOME), without starting one. */
export async function findLocalServer(opts: { dataDir?: string } = {}): Promise<EmbeddedServer | null> {
  const dataDir = path.resolve(opts.dataDir ?? defaultDataDir());
  const live = await liveServer(dataDir);
  return live ? { baseURL: live.url, apiKey: localApiKey(dataDir) } : null;
}

async function ensure(dataDir: string, opts: EmbeddedServerOptions): Promise<EmbeddedServer> {
  fs.mkdirSync(dataDir, { recursive: true });
  const apiKey = localApiKey(dataDir);
  const deadline = Date.now() + (opts.startTimeoutMs ?? 120_000);
  for (;;) {
    const live = await liveServer(dataDir);
    if (live) return { baseURL: live.url, apiKey };
    const release = tryLock(dataDir);
    if (release) {
      try {
        // Someone may have finished starting one between our check and the lock.
        const again = await liveServer(dataDir);
        if (again) return { baseURL: again.url, apiKey };
        try {
          const url = await spawnServer(dataDir, deadline, opts.log ?? ((line) => process.stderr.write(line + '\n')));
          return { baseURL: url, apiKey };
        } catch (err) {
          // A server started outside the lock (e.g. `tinker-ts serve` by hand) wins the data dir.
          const other = await liveServer(dataDir);
          if (other) return { baseURL: other.url, apiKey };
          throw err;
        }
      } finally {
        release();
      }
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for another process to start the local Tinker server for ${dataDir} (lock ${path.join(dataDir, LOCK_FILE)})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Takes the start lock, or returns null if a live process holds it. */
function tryLock(dataDir: string): (() => void) | null {
  const file = path.join(dataDir, LOCK_FILE);
  try {
    fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
    return () => fs.rmSync(file, { force: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    const age = Date.now() - fs.statSync(file).mtimeMs;
    // An empty file is a lock being written right now, unless it has stayed empty.
    if (text === '' && age < 5_000) return null;
    const holder = Number(text);
    if (!Number.isInteger(holder) || holder <= 0 || !pidAlive(holder) || age > STALE_LOCK_MS) {
      // Stale: its owner died while starting a server. Remove it and let the next round retry.
      fs.rmSync(file, { force: true });
    }
  } catch {
    /* the holder just released it */
  }
  return null;
}

function spawnServer(dataDir: string, deadline: number, log: (line: string) => void): Promise<string> {
  const logPath = path.join(dataDir, LOG_FILE);
  const logFd = fs.openSync(logPath, 'a');
  const child = spawn(
    nodeExecutable(),
    [CLI_PATH, 'serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--parent-pid', String(process.pid)],
    { stdio: ['pipe', 'pipe', logFd], windowsHide: true },
  );
  fs.closeSync(logFd);

  return new Promise<string>((resolve, reject) => {
    let out = '';
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      let tail = '';
      try {
        tail = fs.readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n');
      } catch {
        /* no log */
      }
      reject(new Error(`could not start the local Tinker server (${why}); log ${logPath}:\n${tail}`));
    };
    const timer = setTimeout(() => fail('it did not start listening in time'), Math.max(1000, deadline - Date.now()));
    child.once('error', (err) => fail(err.message));
    child.once('exit', (code, signal) => fail(`it exited with ${signal ?? `code ${code}`}`));
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith(READY_LINE_PREFIX));
      if (!line || done) return;
      done = true;
      clearTimeout(timer);
      const url = line.slice(READY_LINE_PREFIX.length).trim();
      child.removeAllListeners('exit');
      child.stdout!.destroy();
      // Keep stdin open (its closing tells the child we are gone) without keeping us alive. Bun's
      // child pipes have no unref(); there the pipe does not keep the process alive anyway.
      (child.stdin as unknown as Partial<Socket>).unref?.();
      child.unref();
      started.set(dataDir, { child, url });
      process.once('exit', () => child.kill('SIGTERM'));
      log(`tinker-ts: started a local Tinker server at ${url} (pid ${child.pid}); data in ${dataDir}, log in ${logPath}. It stops when this process exits.`);
      resolve(url);
    });
  });
}

/** Stops the servers this process started (they also stop by themselves when it exits). */
export async function stopEmbeddedServers(): Promise<void> {
  const all = [...started.values()];
  started.clear();
  await Promise.all(
    all.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
}
