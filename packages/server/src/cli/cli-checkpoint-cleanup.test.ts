/**
 * The CLI as the Python CLI spells it, run as a process against a real server: the -f
 * table|json option (also before the command), `checkpoint delete` of several paths or of a
 * run's checkpoints by --type/--before/--after (asking on a terminal unless -y, refusing a
 * filtered delete from a script without -y), and `checkpoint set-ttl --ttl N | --remove`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRestFixture, type RestFixture } from '../routes/rest-testkit.js';
import { TestClient } from '../testkit.js';

const CLI = fileURLToPath(import.meta.resolve('@tinker-ts/sdk/cli/main'));
const KEY = 'tml-cli-cleanup';

let fx: RestFixture;
let home: string;
let client: TestClient;
let sessionId: string;
let nextModelSeq = 0;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const env = () => ({ ...process.env, TINKER_BASE_URL: fx.server.url, TINKER_API_KEY: KEY, TINKER_HOME: home });

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: env(), timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Runs the CLI on a pseudo-terminal (util-linux `script`), typing `input`. */
function cliOnTerminal(args: string[], input: string): Promise<Run> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, CLI, ...args].map(quote).join(' ');
  return new Promise((resolve) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: env() });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stdin.end(input);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr: '' }));
  });
}

const hasScript = spawnSync('script', ['--version']).status === 0;

/** A new training run with the named checkpoints saved in order (weights, or sampler_weights with 's:'). */
async function runWith(names: string[]): Promise<{ runId: string; paths: string[]; times: number[] }> {
  const runId = await client.createModel(sessionId, nextModelSeq++, 2, 1);
  const paths: string[] = [];
  const times: number[] = [];
  let seq = 1;
  for (const n of names) {
    await new Promise((r) => setTimeout(r, 15));
    times.push(Date.now());
    const sampler = n.startsWith('s:');
    const fut = await client.post(sampler ? 'save_weights_for_sampler' : 'save_weights', { model_id: runId, path: sampler ? n.slice(2) : n, seq_id: seq++ });
    paths.push((await client.result(fut.request_id)).path);
  }
  return { runId, paths, times };
}

async function exists(tinkerPath: string): Promise<boolean> {
  const r = await cli(['checkpoint', 'info', tinkerPath]);
  return r.code === 0;
}

before(async () => {
  fx = await startRestFixture('tinker-cli-cleanup-');
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-cli-cleanup-home-'));
  client = new TestClient(fx.server.url, KEY);
  sessionId = await client.createSession();
});
after(async () => {
  await fx?.close();
  fs.rmSync(home, { recursive: true, force: true });
});

test('-f json before the command or after it prints JSON; -f table a table; another format exits 2', async () => {
  const { runId, paths } = await runWith(['a1']);
  const leading = await cli(['-f', 'json', 'checkpoint', 'list', '--run-id', runId]);
  assert.equal(leading.code, 0, leading.stderr);
  assert.deepEqual(JSON.parse(leading.stdout).checkpoints.map((c: any) => c.tinkerPath), paths);
  const trailing = await cli(['checkpoint', 'list', '--run-id', runId, '-f', 'json']);
  assert.deepEqual(JSON.parse(trailing.stdout), JSON.parse(leading.stdout));
  const long = await cli(['--format=json', 'run', 'info', runId]);
  assert.equal(JSON.parse(long.stdout).trainingRunId, runId);
  const table = await cli(['-f', 'table', 'checkpoint', 'list', '--run-id', runId]);
  assert.match(table.stdout, /^TINKER PATH\s+TYPE/);
  for (const args of [['-f', 'yaml', 'run', 'list'], ['run', 'list', '-f', 'xml'], ['-f', 'json', 'version'], ['-f', 'yaml', 'checkpoint', 'delete', paths[0]!, '-y']]) {
    const bad = await cli(args);
    assert.equal(bad.code, 2, args.join(' '));
    assert.match(bad.stderr, /^error: -f\/--format/, args.join(' '));
  }
  // The bad format was refused before the delete ran.
  assert.equal(await exists(paths[0]!), true);
});

test('delete takes several paths at once; -f json reports the count', async () => {
  const { paths } = await runWith(['d1', 'd2', 'd3']);
  const r = await cli(['checkpoint', 'delete', paths[0]!, paths[2]!, '-y', '-f', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.deleted_count, 2);
  assert.deepEqual(out.failed, []);
  assert.deepEqual(await Promise.all(paths.map(exists)), [false, true, false]);
});

test('delete --run-id with --type, --before and --after deletes only the matching checkpoints', async () => {
  const { runId, paths } = await runWith(['w1', 's:s1', 'w2', 's:s2', 'w3']);
  const sampler = await cli(['checkpoint', 'delete', '--run-id', runId, '--type', 'sampler_weights', '-y']);
  assert.equal(sampler.code, 0, sampler.stderr);
  assert.match(sampler.stdout, /Deleted 2 checkpoint\(s\)/);
  assert.deepEqual(await Promise.all(paths.map(exists)), [true, false, true, false, true]);
  // Strictly after w1 and strictly before w3: w2 only (of what is left).
  const listed = JSON.parse((await cli(['checkpoint', 'list', '--run-id', runId, '-f', 'json'])).stdout).checkpoints as Array<{ tinkerPath: string; time: string }>;
  const timeOf = (p: string) => listed.find((c) => c.tinkerPath === p)!.time;
  const window = await cli(['checkpoint', 'delete', '--run-id', runId, '--after', timeOf(paths[0]!), '--before', timeOf(paths[4]!), '-y']);
  assert.equal(window.code, 0, window.stderr);
  assert.deepEqual(await Promise.all(paths.map(exists)), [true, false, false, false, true]);
  const none = await cli(['checkpoint', 'delete', '--run-id', runId, '--before', '2001-01-01', '-y']);
  assert.equal(none.code, 0);
  assert.match(none.stdout, /no checkpoints of run .* match/);
  const rest = await cli(['checkpoint', 'delete', '--run-id', runId, '--type', 'weights', '-y']);
  assert.equal(rest.code, 0, rest.stderr);
  assert.deepEqual(await Promise.all(paths.map(exists)), [false, false, false, false, false]);
});

test('a filtered delete from a script without -y is refused, and nothing is deleted', async () => {
  const { runId, paths } = await runWith(['keep1']);
  const r = await cli(['checkpoint', 'delete', '--run-id', runId]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: refusing to delete 1 checkpoint\(s\) chosen by filters without confirmation: stdin is not a terminal; pass -y\n$/);
  assert.equal(await exists(paths[0]!), true);
});

test('on a terminal, delete shows what it will delete and asks: "n" keeps, "y" deletes', { skip: !hasScript && 'no util-linux script for a pseudo-terminal' }, async () => {
  const { runId, paths } = await runWith(['t1', 't2']);
  const no = await cliOnTerminal(['checkpoint', 'delete', '--run-id', runId], 'n\n');
  assert.equal(no.code, 0, no.stdout);
  assert.match(no.stdout, /Will delete 2 checkpoint\(s\):/);
  assert.ok(no.stdout.includes(paths[0]!) && no.stdout.includes(paths[1]!));
  assert.match(no.stdout, /Are you sure you want to delete 2 checkpoint\(s\)\? \[y\/N\]/);
  assert.match(no.stdout, /Deletion cancelled\./);
  assert.deepEqual(await Promise.all(paths.map(exists)), [true, true]);
  const yes = await cliOnTerminal(['checkpoint', 'delete', paths[1]!], 'y\n');
  assert.equal(yes.code, 0, yes.stdout);
  assert.match(yes.stdout, new RegExp(`deleted ${paths[1]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.deepEqual(await Promise.all(paths.map(exists)), [true, false]);
});

test('set-ttl --ttl N sets the expiry (at least an hour); --remove clears it', async () => {
  const { paths } = await runWith(['ttl1']);
  const p = paths[0]!;
  const t0 = Date.now();
  const set = await cli(['checkpoint', 'set-ttl', p, '--ttl', '7200']);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /expires in 7200 s/);
  const info = JSON.parse((await cli(['checkpoint', 'info', p, '-f', 'json'])).stdout);
  const expires = Date.parse(info.expiresAt);
  assert.ok(expires >= t0 + 7200_000 - 1000 && expires <= Date.now() + 7200_000 + 1000, info.expiresAt);
  const removed = await cli(['checkpoint', 'set-ttl', p, '--remove', '-f', 'json']);
  assert.deepEqual(JSON.parse(removed.stdout), { tinker_path: p, ttl_seconds: null });
  assert.equal(JSON.parse((await cli(['checkpoint', 'info', p, '--json'])).stdout).expiresAt, undefined);
});

test('bad delete and set-ttl arguments exit 2 with one clear line', async () => {
  const p = 'tinker://r1/weights/x';
  const cases: Array<[string[], RegExp]> = [
    [['checkpoint', 'delete'], /give checkpoint paths or --run-id/],
    [['checkpoint', 'delete', p, '--run-id', 'r1'], /either checkpoint paths or --run-id, not both/],
    [['checkpoint', 'delete', p, '--type', 'weights'], /--type, --before and --after need --run-id/],
    [['checkpoint', 'delete', '--run-id', 'r1', '--type', 'adapter'], /--type must be weights or sampler_weights/],
    [['checkpoint', 'delete', '--run-id', 'r1', '--before', 'last tuesday'], /--before must be an ISO 8601 date/],
    [['checkpoint', 'delete', '--run-id', 'r1', '--after', '2024-13-45'], /--after: "2024-13-45" is not a real date/],
    [['checkpoint', 'delete', 'not-a-path', '-y'], /tinker:\/\//],
    [['checkpoint', 'set-ttl', p], /give --ttl SECONDS or --remove/],
    [['checkpoint', 'set-ttl', p, '--ttl', '7200', '--remove'], /either --ttl or --remove, not both/],
    [['checkpoint', 'set-ttl', p, '--ttl', '60'], /--ttl must be a whole number of seconds from 3600/],
    [['checkpoint', 'set-ttl', p, '--ttl', 'soon'], /--ttl must be a whole number/],
    [['checkpoint', 'set-ttl', p, '--yes'], /--yes does not apply to "checkpoint set-ttl"/],
  ];
  for (const [args, pattern] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern, args.join(' '));
  }
});
