/**
 * The CLI's client commands (`run`, `checkpoint`, `session`, incl. `session export-trace`), all through the SDK's RestClient.
 * The server is `--base-url`, else TINKER_BASE_URL, else the local server recorded in the data
 * directory (TINKER_HOME); it is probed first so an unreachable server is one clear line, not
 * minutes of retries.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { parseTinkerPath } from '@tinker-ts/protocol';
import { Progress } from '../progress.js';
import { ServiceClient } from '../service-client.js';
import type { PageFuture } from '../pagination.js';
import type { RestClient } from '../rest-client.js';
import type { Checkpoint, TrainingRun } from '../types.js';
import { extractTar } from '@tinker-ts/protocol/tar';
import { UsageError, expectPositionals, flagOption, intOption, stringOption, type OptionSpecs, type ParsedArgs } from '@tinker-ts/protocol/cli-args';
import { errorMessage, formatBytes, formatTime, keyValues, table } from './output.js';
import { answersHealthz } from '@tinker-ts/protocol/healthz';
import { findLocalServer } from './local-server.js';
import { confirmDelete, deletePaths, planDelete, ttlOfArgs } from './checkpoint-cleanup.js';

/** A failure to report as one line with exit code 1 (not a usage error). */
export class CommandError extends Error {}

export const CLIENT_OPTIONS: OptionSpecs = {
  'base-url': {},
  'api-key': {},
  json: { flag: true },
  limit: {},
  run: {},
  output: { short: 'o' },
  // As the Python CLI: -f table|json (also before the command), checkpoint delete's filters
  // and -y, set-ttl's --ttl / --remove.
  format: { short: 'f' },
  'run-id': {},
  type: {},
  before: {},
  after: {},
  yes: { short: 'y', flag: true },
  ttl: {},
  remove: { flag: true },
};

interface Connection {
  rest: RestClient;
  baseURL: string;
  close(): Promise<void>;
}

/**
 * The server a command talks to: --base-url, else TINKER_BASE_URL, else the local server of
 * TINKER_HOME (whose key is used when none is given); a CommandError when there is none.
 */
export async function locateServer(args: ParsedArgs): Promise<{ baseURL: string; apiKey: string | undefined }> {
  const baseURL = stringOption(args, 'base-url') ?? process.env['TINKER_BASE_URL'];
  const apiKey = stringOption(args, 'api-key') ?? process.env['TINKER_API_KEY'];
  if (baseURL) return { baseURL, apiKey };
  const local = await findLocalServer();
  if (typeof local === 'string') {
    throw new CommandError(`no Tinker server: pass --base-url or set TINKER_BASE_URL, or start a local one with "tinker-ts serve" (${local})`);
  }
  return { baseURL: local.baseURL, apiKey: apiKey ?? local.apiKey };
}

/** Fails with a CommandError unless the server at `base` answers healthz within 5 s. */
export async function requireReachable(base: string): Promise<void> {
  if (!(await answersHealthz(base, 5000))) {
    throw new CommandError(`cannot reach the Tinker server at ${base} (no answer from ${base}/api/v1/healthz); is it running?`);
  }
}

async function connect(args: ParsedArgs): Promise<Connection> {
  const { baseURL, apiKey } = await locateServer(args);
  try {
    const u = new URL(baseURL);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new UsageError(`--base-url must be an http(s) URL, got ${JSON.stringify(baseURL)}`);
  }
  if (!apiKey) throw new UsageError('no API key: pass --api-key or set TINKER_API_KEY');
  if (!apiKey.startsWith('tml-') && !apiKey.startsWith('eyJ')) throw new UsageError('the API key must start with "tml-" (or be a JWT starting with "eyJ")');
  const base = baseURL.replace(/\/+$/, '');
  await requireReachable(base);
  // Warnings while the command runs are the user's business; once it is done, shutting the
  // client down is not.
  let closing = false;
  const service = new ServiceClient({
    baseURL: base,
    apiKey,
    maxRetries: 1,
    timeoutMs: 60_000,
    logger: { warn: (m) => (closing ? undefined : void process.stderr.write(`warning: ${m}\n`)), info: () => {} },
  });
  return {
    rest: service.createRestClient(),
    baseURL: base,
    close: () => {
      closing = true;
      return service.close();
    },
  };
}

function checkPath(p: string): string {
  try {
    parseTinkerPath(p, 'checkpoint path');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return p;
}

/** `--json`, or `-f json` / `--format json` (the Python CLI's spelling); default table. */
function wantsJson(args: ParsedArgs): boolean {
  const format = stringOption(args, 'format');
  if (format !== undefined && format !== 'table' && format !== 'json') {
    throw new UsageError(`-f/--format must be table or json, got ${JSON.stringify(format)}`);
  }
  return flagOption(args, 'json') || format === 'json';
}

function print(args: ParsedArgs, value: unknown, human: () => string): void {
  process.stdout.write((wantsJson(args) ? JSON.stringify(value, null, 2) : human()) + '\n');
}


/** Up to `limit` items (0 = all) walking pages; also the total when the server reports one. */
async function collect<T>(pages: PageFuture<T>, limit: number): Promise<{ items: T[]; total: number | undefined }> {
  const first = await pages;
  const items: T[] = [];
  for await (const item of pages) {
    items.push(item);
    if (limit > 0 && items.length >= limit) break;
  }
  return { items, total: first.cursor?.totalCount };
}

function noteTruncated(shown: number, total: number | undefined): void {
  if (total !== undefined && shown < total) process.stderr.write(`(showing ${shown} of ${total}; use --limit 0 for all)\n`);
}

function checkpointRows(list: Checkpoint[]): string {
  if (list.length === 0) return 'no checkpoints';
  return table(
    ['TINKER PATH', 'TYPE', 'SIZE', 'PUBLIC', 'CREATED', 'EXPIRES'],
    list.map((c) => [c.tinkerPath, c.checkpointType, formatBytes(c.sizeBytes), c.public ? 'yes' : 'no', formatTime(c.time), c.expiresAt ? formatTime(c.expiresAt) : 'never']),
  );
}

function runInfo(r: TrainingRun): string {
  return keyValues([
    ['Run ID', r.trainingRunId],
    ['Base model', r.baseModel],
    ['Owner', r.modelOwner],
    ['LoRA rank', r.loraRank !== undefined ? String(r.loraRank) : '-'],
    ['Corrupted', r.corrupted ? 'yes' : 'no'],
    ['Last request', formatTime(r.lastRequestTime)],
    ['Last checkpoint', r.lastCheckpoint?.tinkerPath ?? '-'],
    ['Last sampler checkpoint', r.lastSamplerCheckpoint?.tinkerPath ?? '-'],
    ...(r.userMetadata ? Object.entries(r.userMetadata).map(([k, v]): [string, string] => [`metadata.${k}`, v]) : []),
  ]);
}

async function findCheckpoint(rest: RestClient, tinkerPath: string): Promise<Checkpoint> {
  const runId = parseTinkerPath(tinkerPath).runId;
  for await (const c of rest.listCheckpoints(runId)) if (c.tinkerPath === tinkerPath) return c;
  throw new CommandError(`checkpoint ${tinkerPath} not found`);
}

type Handler = (args: ParsedArgs, conn: () => Promise<Connection>) => Promise<void>;

/** Options every client command takes. */
const COMMON = ['base-url', 'api-key', 'json', 'format'];

const commands: Record<string, Record<string, { usage: string; options?: string[]; run: Handler }>> = {
  run: {
    list: {
      usage: 'tinker-ts run list [--limit N]',
      options: ['limit'],
      run: async (args, conn) => {
        expectPositionals(args, [], usageOf('run', 'list'));
        const limit = intOption(args, 'limit', 20, 0, 1_000_000);
        const { rest } = await conn();
        const { items, total } = await collect(rest.listTrainingRuns({ limit: limit === 0 ? 100 : Math.min(limit, 100) }), limit);
        print(args, { training_runs: items, total_count: total }, () =>
          items.length === 0
            ? 'no training runs'
            : table(
                ['RUN ID', 'BASE MODEL', 'RANK', 'LAST REQUEST', 'LAST CHECKPOINT'],
                items.map((r) => [r.trainingRunId, r.baseModel, String(r.loraRank ?? '-'), formatTime(r.lastRequestTime), r.lastCheckpoint?.tinkerPath ?? '-']),
              ),
        );
        if (!wantsJson(args)) noteTruncated(items.length, total);
      },
    },
    info: {
      usage: 'tinker-ts run info <run_id>',
      run: async (args, conn) => {
        const [runId] = expectPositionals(args, ['run_id'], usageOf('run', 'info'));
        const { rest } = await conn();
        const r = await rest.getTrainingRun(runId!);
        print(args, r, () => runInfo(r));
      },
    },
  },
  checkpoint: {
    list: {
      usage: 'tinker-ts checkpoint list [--run-id RUN_ID] [--limit N]',
      options: ['run', 'run-id', 'limit'],
      run: async (args, conn) => {
        expectPositionals(args, [], usageOf('checkpoint', 'list'));
        const limit = intOption(args, 'limit', 0, 0, 1_000_000);
        if (stringOption(args, 'run') !== undefined && stringOption(args, 'run-id') !== undefined) throw new UsageError('give --run-id (or its older spelling --run) once');
        const run = stringOption(args, 'run-id') ?? stringOption(args, 'run');
        const { rest } = await conn();
        const pages = run ? rest.listCheckpoints(run) : rest.listUserCheckpoints({ limit: limit === 0 ? 100 : Math.min(limit, 100) });
        const { items, total } = await collect(pages, limit);
        print(args, { checkpoints: items, total_count: total }, () => checkpointRows(items));
        if (!wantsJson(args)) noteTruncated(items.length, total);
      },
    },
    info: {
      usage: 'tinker-ts checkpoint info <tinker_path>',
      run: async (args, conn) => {
        const [p] = expectPositionals(args, ['tinker_path'], usageOf('checkpoint', 'info'));
        checkPath(p!);
        const { rest } = await conn();
        const c = await findCheckpoint(rest, p!);
        print(args, c, () =>
          keyValues([
            ['Tinker path', c.tinkerPath],
            ['Checkpoint ID', c.checkpointId],
            ['Type', c.checkpointType],
            ['Size', formatBytes(c.sizeBytes)],
            ['Public', c.public ? 'yes' : 'no'],
            ['Created', formatTime(c.time)],
            ['Expires', c.expiresAt ? formatTime(c.expiresAt) : 'never'],
          ]),
        );
      },
    },
    download: {
      usage: 'tinker-ts checkpoint download <tinker_path> [-o DIR]',
      options: ['output'],
      run: async (args, conn) => {
        const [p] = expectPositionals(args, ['tinker_path'], usageOf('checkpoint', 'download'));
        const parsed = (checkPath(p!), parseTinkerPath(p!));
        const dest = path.resolve(stringOption(args, 'output') ?? `${parsed.runId}-${parsed.kind}-${parsed.name}`.replace(/[^A-Za-z0-9._-]/g, '_'));
        if (fs.existsSync(dest) && (!fs.statSync(dest).isDirectory() || fs.readdirSync(dest).length > 0)) {
          throw new CommandError(`${dest} already exists and is not an empty directory; choose another with -o`);
        }
        const { rest } = await conn();
        const link = await rest.getCheckpointArchiveUrl(p!);
        const res = await fetch(link.url);
        if (!res.ok || !res.body) {
          const text = await res.text().catch(() => '');
          throw new CommandError(`download failed: HTTP ${res.status} ${text.slice(0, 300)}`);
        }
        const length = Number(res.headers.get('content-length'));
        const progress = new Progress({ label: `downloading ${p}`, unit: 'bytes', ...(length > 0 ? { total: length } : {}) });
        let received = 0;
        const counted = new Transform({
          transform(chunk: Buffer, _enc, done) {
            received += chunk.length;
            progress.update(received);
            done(null, chunk);
          },
        });
        let files: number;
        try {
          files = await extractTar(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>).pipe(counted), dest);
        } catch (err) {
          throw new CommandError(`could not extract the checkpoint archive into ${dest}: ${(err as Error).message}`);
        } finally {
          progress.finish();
        }
        print(args, { tinker_path: p, destination: dest, files }, () => `downloaded ${p} to ${dest} (${files} files)`);
      },
    },
    delete: {
      usage: 'tinker-ts checkpoint delete <tinker_path...> | --run-id RUN_ID [--type weights|sampler_weights] [--before DATE] [--after DATE] [-y]',
      options: ['run-id', 'type', 'before', 'after', 'yes'],
      run: async (args, conn) => {
        const plan = await planDelete(args, async () => (await conn()).rest);
        if (plan.paths.length === 0) {
          print(args, { deleted_count: 0, failed: [] }, () => `no checkpoints of run ${stringOption(args, 'run-id')} match the filters`);
          return;
        }
        if (!(await confirmDelete(args, plan))) {
          print(args, { deleted_count: 0, failed: [], cancelled: true }, () => 'Deletion cancelled.');
          return;
        }
        const { rest } = await conn();
        const out = await deletePaths(rest, plan.paths, errorMessage);
        print(args, { deleted_count: out.deleted.length, deleted: out.deleted, failed: out.failed }, () =>
          [
            ...out.deleted.map((p) => `deleted ${p}`),
            ...(plan.paths.length > 1 ? [`Deleted ${out.deleted.length} checkpoint(s)`] : []),
            ...out.failed.map((f) => `failed to delete ${f.tinker_path}: ${f.error}`),
          ].join('\n'),
        );
        if (out.failed.length > 0) throw new CommandError(`${out.failed.length} of ${plan.paths.length} checkpoint(s) could not be deleted`);
      },
    },
    'set-ttl': {
      usage: 'tinker-ts checkpoint set-ttl <tinker_path> --ttl SECONDS | --remove',
      options: ['ttl', 'remove'],
      run: async (args, conn) => {
        const [p] = expectPositionals(args, ['tinker_path'], usageOf('checkpoint', 'set-ttl'));
        checkPath(p!);
        const ttl = ttlOfArgs(args);
        const { rest } = await conn();
        await rest.setCheckpointTtl(p!, ttl);
        print(args, { tinker_path: p, ttl_seconds: ttl }, () => (ttl === null ? `${p} no longer expires` : `${p} expires in ${ttl} s`));
      },
    },
    publish: {
      usage: 'tinker-ts checkpoint publish <tinker_path>',
      run: async (args, conn) => {
        const [p] = expectPositionals(args, ['tinker_path'], usageOf('checkpoint', 'publish'));
        checkPath(p!);
        const { rest } = await conn();
        await rest.publishCheckpoint(p!);
        print(args, { published: p }, () => `published ${p} (readable by every user of this server)`);
      },
    },
    unpublish: {
      usage: 'tinker-ts checkpoint unpublish <tinker_path>',
      run: async (args, conn) => {
        const [p] = expectPositionals(args, ['tinker_path'], usageOf('checkpoint', 'unpublish'));
        checkPath(p!);
        const { rest } = await conn();
        await rest.unpublishCheckpoint(p!);
        print(args, { unpublished: p }, () => `unpublished ${p}`);
      },
    },
    ttl: {
      usage: 'tinker-ts checkpoint ttl <tinker_path> <seconds|none>',
      run: async (args, conn) => {
        const [p, ttlText] = expectPositionals(args, ['tinker_path', 'seconds|none'], usageOf('checkpoint', 'ttl'));
        checkPath(p!);
        let ttl: number | null;
        if (ttlText === 'none') ttl = null;
        else if (/^\d+$/.test(ttlText!) && Number(ttlText) > 0 && Number.isSafeInteger(Number(ttlText))) ttl = Number(ttlText);
        else throw new UsageError(`ttl must be a positive number of seconds or "none", got ${JSON.stringify(ttlText)}`);
        const { rest } = await conn();
        await rest.setCheckpointTtl(p!, ttl);
        print(args, { tinker_path: p, ttl_seconds: ttl }, () => (ttl === null ? `${p} no longer expires` : `${p} expires in ${ttl} s`));
      },
    },
  },
  session: {
    list: {
      usage: 'tinker-ts session list [--limit N]',
      options: ['limit'],
      run: async (args, conn) => {
        expectPositionals(args, [], usageOf('session', 'list'));
        const limit = intOption(args, 'limit', 20, 0, 1_000_000);
        const { rest } = await conn();
        const { items } = await collect(rest.listSessions({ limit: limit === 0 ? 100 : Math.min(limit, 100) }), limit);
        print(args, { sessions: items }, () => (items.length === 0 ? 'no sessions' : table(['SESSION ID'], items.map((s) => [s]))));
      },
    },
    'export-trace': {
      usage: 'tinker-ts session export-trace <session_id> [-o FILE]',
      options: ['output'],
      run: async (args, conn) => {
        const [id] = expectPositionals(args, ['session_id'], usageOf('session', 'export-trace'));
        const dest = path.resolve(stringOption(args, 'output') ?? `trace-${id!.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
        const { rest } = await conn();
        const trace = await rest.exportSessionTrace(id!);
        try {
          fs.writeFileSync(dest, JSON.stringify(trace));
        } catch (err) {
          throw new CommandError(`could not write the trace to ${dest}: ${(err as Error).message}`);
        }
        const events = trace.traceEvents.length;
        const requests = trace.otherData?.['requests'];
        print(args, { session_id: id, file: dest, events, requests }, () =>
          `wrote ${dest} (${requests ?? '?'} requests, ${events} trace events); open it at https://ui.perfetto.dev or chrome://tracing`,
        );
      },
    },
    info: {
      usage: 'tinker-ts session info <session_id>',
      run: async (args, conn) => {
        const [id] = expectPositionals(args, ['session_id'], usageOf('session', 'info'));
        const { rest } = await conn();
        const s = await rest.getSession(id!);
        print(args, s, () =>
          keyValues([
            ['Session ID', id!],
            ['Training runs', s.trainingRunIds.length ? s.trainingRunIds.join(', ') : '-'],
            ['Samplers', s.samplerIds.length ? s.samplerIds.join(', ') : '-'],
          ]),
        );
      },
    },
  },
};

function usageOf(group: string, sub: string): string {
  return commands[group]![sub]!.usage;
}

export const CLIENT_GROUPS = Object.keys(commands);

export function clientUsage(): string[] {
  return Object.values(commands).flatMap((g) => Object.values(g).map((c) => c.usage));
}

export async function clientCommand(group: string, args: ParsedArgs): Promise<number> {
  const [sub, ...rest] = args.positionals;
  const subs = commands[group]!;
  if (!sub) throw new UsageError(`missing subcommand: tinker-ts ${group} ${Object.keys(subs).join('|')}`);
  const cmd = subs[sub];
  if (!cmd) throw new UsageError(`unknown subcommand "${group} ${sub}" (expected one of: ${Object.keys(subs).join(', ')})`);
  const allowed = new Set([...COMMON, ...(cmd.options ?? [])]);
  for (const name of Object.keys(args.options)) {
    if (!allowed.has(name)) throw new UsageError(`option --${name} does not apply to "${group} ${sub}" (usage: ${cmd.usage})`);
  }
  const subArgs: ParsedArgs = { ...args, positionals: rest };
  wantsJson(subArgs); // a bad -f is refused before the command does anything
  let connection: Connection | undefined;
  try {
    await cmd.run(subArgs, async () => (connection ??= await connect(subArgs)));
  } finally {
    await connection?.close();
  }
  return 0;
}
