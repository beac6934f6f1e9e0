/**
 * `tinker-ts serve`: runs the local server in the foreground until SIGINT/SIGTERM, or — with
 * `--parent-pid` — until that process exits or closes our stdin (the embedded launcher's way
 * of making sure the server never outlives the program that started it).
 *
 * Prints `tinker-ts server listening on <url>` on stdout once it accepts requests; logs go to
 * stderr.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError, flagOption, intOption, listOption, stringOption, type OptionSpecs, type ParsedArgs } from '@tinker-ts/protocol/cli-args';
import { waitForDataDirRelease } from '../data-dir-lock.js';
import { READY_LINE_PREFIX, defaultDataDir, liveServer, removeServerFile, pidAlive, writeServerFile } from '../server-file.js';
import { parseCpuList as parseCpuListText } from '../request-thread.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../limits.js';
import { checkCorsOrigin } from '../cors.js';

export const SERVE_OPTIONS: OptionSpecs = {
  host: {},
  port: {},
  'data-dir': {},
  model: { repeat: true },
  dtype: { repeat: true },
  'api-keys': {},
  'parent-pid': {},
  kernels: {},
  'engine-cpus': {},
  limit: { repeat: true },
  cors: { repeat: true },
  quiet: { flag: true },
};

export const SERVE_USAGE =
  'tinker-ts serve [--host 127.0.0.1] [--port 0] [--data-dir DIR] [--model NAME=DIR ...] [--dtype NAME=bf16|f32 ...] [--api-keys FILE] [--engine-cpus LIST] [--limit NAME=N ...] [--cors ORIGIN ...] [--parent-pid PID]';


/**
 * An API key file: a JSON object `{"<key>": "<user>"}`, or lines `<key> <user>` (`#` comments).
 * Keys must start with `tml-`, since that is all the official SDK will send.
 */
export function readApiKeysFile(file: string): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --api-keys file ${file}: ${(err as Error).message}`);
  }
  const table: Record<string, string> = {};
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new UsageError(`--api-keys file ${file} is not valid JSON: ${(err as Error).message}`);
    }
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof v !== 'string' || v === '') throw new UsageError(`--api-keys file ${file}: user of key ${k.slice(0, 8)}… must be a non-empty string`);
      table[k] = v;
    }
  } else {
    trimmed.split('\n').forEach((line, i) => {
      const l = line.replace(/#.*/, '').trim();
      if (!l) return;
      const parts = l.split(/\s+/);
      if (parts.length !== 2) throw new UsageError(`--api-keys file ${file} line ${i + 1}: expected "<key> <user>"`);
      table[parts[0]!] = parts[1]!;
    });
  }
  const keys = Object.keys(table);
  if (keys.length === 0) throw new UsageError(`--api-keys file ${file} lists no keys`);
  for (const k of keys) {
    if (!k.startsWith('tml-') || k.length < 8) throw new UsageError(`--api-keys file ${file}: keys must start with "tml-" and be at least 8 characters`);
  }
  return table;
}

export function parseModelOptions(values: string[]): Record<string, string> {
  const models: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0 || eq === v.length - 1) throw new UsageError(`--model must be NAME=DIR (a Hugging Face model directory), got ${JSON.stringify(v)}`);
    const dir = path.resolve(v.slice(eq + 1));
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`--model ${v.slice(0, eq)}: ${dir} is not a directory`);
    models[v.slice(0, eq)] = dir;
  }
  return models;
}

/**
 * `--dtype NAME=bf16|f32`: how a base model's frozen weights are stored (default: as its
 * checkpoint stores them; stand-ins f32). The engine refuses names it does not serve.
 */
export function parseDtypeOptions(values: string[]): Record<string, string> {
  const dtypes: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UsageError(`--dtype must be NAME=bf16 or NAME=f32, got ${JSON.stringify(v)}`);
    const dtype = v.slice(eq + 1);
    if (dtype !== 'bf16' && dtype !== 'f32') throw new UsageError(`--dtype ${v.slice(0, eq)}: unsupported dtype ${JSON.stringify(dtype)} (expected bf16 or f32)`);
    dtypes[v.slice(0, eq)] = dtype;
  }
  return dtypes;
}

/** A CPU list as taskset takes it: numbers and ranges, comma-separated ("1-3,5"). */
export function parseCpuList(value: string): number[] {
  const cpus = parseCpuListText(value);
  if (!cpus) throw new UsageError(`--engine-cpus must be CPU numbers and ranges such as "1-3,5", got ${JSON.stringify(value)}`);
  return cpus;
}

/**
 * `--limit NAME=N`: one of the request limits (limits.ts), named as in startServer's options or
 * in kebab case (`max-data-body-bytes=67108864`), set to a positive integer.
 */
export function parseLimitOptions(values: string[]): Partial<RequestLimits> {
  const limits: Partial<RequestLimits> = {};
  const names = Object.keys(DEFAULT_REQUEST_LIMITS) as (keyof RequestLimits)[];
  for (const v of values) {
    const m = /^([A-Za-z-]+)=(\d+)$/.exec(v.trim());
    const name = m && (m[1]!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof RequestLimits);
    if (!m || !names.includes(name!)) {
      throw new UsageError(`--limit must be NAME=N with NAME one of ${names.join(', ')}, got ${JSON.stringify(v)}`);
    }
    const n = Number(m[2]);
    if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--limit ${m[1]} must be a positive integer, got ${m[2]}`);
    limits[name!] = n;
  }
  return limits;
}

/** How long `serve` waits for a stopping server to release the data dir. */
const DYING_SERVER_WAIT_MS = 15_000;

export async function serveCommand(args: ParsedArgs): Promise<number> {
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])} (usage: ${SERVE_USAGE})`);
  const host = stringOption(args, 'host') ?? '127.0.0.1';
  const port = intOption(args, 'port', 0, 0, 65535);
  const dataDir = path.resolve(stringOption(args, 'data-dir') ?? defaultDataDir());
  const models = parseModelOptions(listOption(args, 'model'));
  const dtypes = parseDtypeOptions(listOption(args, 'dtype'));
  const keysFile = stringOption(args, 'api-keys');
  const apiKeys = keysFile ? readApiKeysFile(keysFile) : undefined;
  const parentPid = stringOption(args, 'parent-pid') !== undefined ? intOption(args, 'parent-pid', 0, 1, 2 ** 31 - 1) : null;
  const kernels = stringOption(args, 'kernels');
  if (kernels !== undefined && kernels !== 'native' && kernels !== 'reference') throw new UsageError(`--kernels must be native or reference, got ${JSON.stringify(kernels)}`);
  const engineCpusText = stringOption(args, 'engine-cpus');
  const engineCpus = engineCpusText !== undefined ? parseCpuList(engineCpusText) : undefined;
  const limits = parseLimitOptions(listOption(args, 'limit'));
  const cors = listOption(args, 'cors');
  for (const origin of cors) {
    const problem = checkCorsOrigin(origin);
    if (problem) throw new UsageError(`--cors: ${problem}`);
  }
  const quiet = flagOption(args, 'quiet');
  const log = (line: string) => {
    if (!quiet) process.stderr.write(`[tinker-ts ${new Date().toISOString()}] ${line}\n`);
  };

  const existing = await liveServer(dataDir);
  if (existing && existing.pid !== process.pid) {
    process.stderr.write(`error: ${dataDir} is already served by process ${existing.pid} at ${existing.url}; stop it first or use another --data-dir\n`);
    return 1;
  }
  if (parentPid !== null && !pidAlive(parentPid)) {
    process.stderr.write(`error: --parent-pid ${parentPid} is not running\n`);
    return 1;
  }

  // A server of this data dir that is still shutting down (its program just exited) holds the
  // data-dir lock for a moment: wait for it to go rather than fail.
  await waitForDataDirRelease(dataDir, DYING_SERVER_WAIT_MS);

  // Loaded here so the client commands never pay for loading the engine.
  const { startServer } = await import('../server.js');
  const server = await startServer({
    host,
    port,
    dataDir,
    ...(Object.keys(models).length ? { models } : {}),
    ...(Object.keys(dtypes).length ? { dtypes } : {}),
    ...(apiKeys ? { apiKeys } : {}),
    ...(kernels ? { kernels: kernels as 'native' | 'reference' } : {}),
    ...(engineCpus ? { engineCpus, isolateRequestThread: true } : {}),
    ...(Object.keys(limits).length ? { limits } : {}),
    ...(cors.length ? { cors } : {}),
    log,
  });
  writeServerFile(dataDir, { pid: process.pid, url: server.url, dataDir, startedAt: new Date().toISOString() });
  process.stdout.write(`${READY_LINE_PREFIX}${server.url}\n`);
  log(`dashboard: ${server.url}/ (enter an API key in the page)`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) {
        // A second signal: do not wait for running work.
        process.exit(130);
      }
      stopping = true;
      log(`stopping (${why})`);
      clearInterval(watch);
      removeServerFile(dataDir, process.pid);
      server.close().then(
        () => resolve(0),
        (err) => {
          log(`error while stopping: ${String(err)}`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    const watch = setInterval(() => {
      if (parentPid !== null && !pidAlive(parentPid)) stop(`parent process ${parentPid} exited`);
    }, 500);
    if (parentPid !== null && !process.stdin.isTTY) {
      // The parent holds the other end of our stdin: it closes when the parent dies, however it dies.
      process.stdin.on('end', () => stop('parent closed the control pipe'));
      process.stdin.on('error', () => stop('parent closed the control pipe'));
      process.stdin.resume();
    }
  });
}
