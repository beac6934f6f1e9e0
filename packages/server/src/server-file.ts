/**
 * `<dataDir>/server.json`: which process serves a data directory and where. Written by
 * `tinker-ts serve` once it listens, removed when it stops; read by the embedded launcher and
 * the CLI to find a running local server, and by `serve` to refuse a second server on the same
 * data (one SQLite database and one engine per directory).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { answersHealthz } from '@tinker-ts/protocol/healthz';

export const SERVER_FILE = 'server.json';
/** What `tinker-ts serve` prints on stdout, followed by its URL, once it accepts requests. */
export const READY_LINE_PREFIX = 'tinker-ts server listening on ';

/** TINKER_HOME, or ~/.tinker-ts. */
export function defaultDataDir(): string {
  return process.env['TINKER_HOME'] || path.join(os.homedir(), '.tinker-ts');
}

export const LOCAL_KEY_FILE = 'local-api-key';

export interface ServerFile {
  pid: number;
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  dataDir: string;
  /** ISO 8601. */
  startedAt: string;
}

export function serverFilePath(dataDir: string): string {
  return path.join(dataDir, SERVER_FILE);
}

export function readServerFile(dataDir: string): ServerFile | null {
  try {
    const v = JSON.parse(fs.readFileSync(serverFilePath(dataDir), 'utf8')) as ServerFile;
    return typeof v.pid === 'number' && typeof v.url === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** Written to a temporary name and renamed, so readers never see half a file. */
export function writeServerFile(dataDir: string, info: ServerFile): void {
  const file = serverFilePath(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(info, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

/** Removes the file only if it still names `pid` (a newer server may have replaced it). */
export function removeServerFile(dataDir: string, pid: number): void {
  const current = readServerFile(dataDir);
  if (current && current.pid === pid) fs.rmSync(serverFilePath(dataDir), { force: true });
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The server recorded for `dataDir`, if its process is alive and it answers healthz. */
export async function liveServer(dataDir: string): Promise<ServerFile | null> {
  const info = readServerFile(dataDir);
  if (!info || !pidAlive(info.pid)) return null;
  return (await answersHealthz(info.url, 2000)) ? info : null;
}

/**
 * The API key local clients of this data directory use (dev-mode servers make every key its
 * own user, so the key must stay the same across launches for runs to stay visible).
 */
export function localApiKey(dataDir: string): string {
  const file = path.join(dataDir, LOCAL_KEY_FILE);
  try {
    const key = fs.readFileSync(file, 'utf8').trim();
    if (key.startsWith('tml-')) return key;
  } catch {
    /* created below */
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const key = `tml-local-${randomBytes(16).toString('hex')}`;
  try {
    fs.writeFileSync(file, key + '\n', { flag: 'wx', mode: 0o600 });
    return key;
  } catch {
    // Another process created it first: use theirs.
    return fs.readFileSync(file, 'utf8').trim();
  }
}
