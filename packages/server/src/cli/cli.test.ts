/**
 * The built tinker-ts CLI, run as a separate process against a running server: every client
 * subcommand (human and --json output), bad arguments (exit 2, one line), an unreachable
 * server and a missing object (exit 1).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TINY_MODEL } from '../testkit.js';
import { parseCpuList, parseLimitOptions } from './serve.js';
import { createUserObjects, startRestFixture, type RestFixture, type UserObjects } from '../routes/rest-testkit.js';

// The whole tinker-ts program is the SDK's (client commands, and serve through this package).
const CLI = fileURLToPath(import.meta.resolve('@tinker-ts/sdk/cli/main'));

let fx: RestFixture;
let user: UserObjects;
let emptyHome: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, TINKER_BASE_URL: fx.server.url, TINKER_API_KEY: 'tml-cli-user', TINKER_HOME: emptyHome, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  fx = await startRestFixture('tinker-cli-');
  user = await createUserObjects(fx.server.url, 'tml-cli-user');
  emptyHome = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-cli-home-'));
});

after(async () => {
  await fx.close();
  fs.rmSync(emptyHome, { recursive: true, force: true });
});

test('version', async () => {
  const r = await cli(['version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^tinker-ts \d+\.\d+\.\d+ \(Tinker wire protocol \d+\.\d+\.\d+\)\n$/);
});

test('run list and run info, as tables and as JSON', async () => {
  const table = await cli(['run', 'list']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^RUN ID\s+BASE MODEL\s+RANK\s+LAST REQUEST\s+LAST CHECKPOINT\n/);
  assert.ok(table.stdout.includes(user.modelId) && table.stdout.includes(user.weightsPath));

  const json = await cli(['run', 'list', '--json', '--limit', '5']);
  const parsed = JSON.parse(json.stdout);
  assert.deepEqual(parsed.training_runs.map((r: any) => r.trainingRunId), [user.modelId]);
  assert.equal(parsed.total_count, 1);

  const info = await cli(['run', 'info', user.modelId]);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, new RegExp(`Base model:\\s+${TINY_MODEL}`));
  assert.match(info.stdout, /LoRA rank:\s+2/);
  const infoJson = JSON.parse((await cli(['run', 'info', user.modelId, '--json'])).stdout);
  assert.equal(infoJson.lastSamplerCheckpoint.tinkerPath, user.samplerPath);
});

test('checkpoint list, info, publish, unpublish and ttl', async () => {
  const list = await cli(['checkpoint', 'list', '--run', user.modelId]);
  assert.equal(list.code, 0, list.stderr);
  assert.ok(list.stdout.includes(user.weightsPath) && list.stdout.includes(user.samplerPath));
  const all = JSON.parse((await cli(['checkpoint', 'list', '--json'])).stdout);
  assert.equal(all.checkpoints.length, 2);
  assert.equal(all.total_count, 2);

  const info = await cli(['checkpoint', 'info', user.weightsPath]);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /Type:\s+training/);
  assert.match(info.stdout, /Public:\s+no/);

  assert.equal((await cli(['checkpoint', 'publish', user.weightsPath])).code, 0);
  assert.equal(JSON.parse((await cli(['checkpoint', 'info', user.weightsPath, '--json'])).stdout).public, true);
  assert.equal((await cli(['checkpoint', 'unpublish', user.weightsPath])).code, 0);
  assert.equal(JSON.parse((await cli(['checkpoint', 'info', user.weightsPath, '--json'])).stdout).public, false);

  const ttl = await cli(['checkpoint', 'ttl', user.samplerPath, '3600']);
  assert.equal(ttl.code, 0, ttl.stderr);
  const withTtl = JSON.parse((await cli(['checkpoint', 'info', user.samplerPath, '--json'])).stdout);
  assert.ok(Date.parse(withTtl.expiresAt) > Date.now() + 3500_000);
  assert.equal((await cli(['checkpoint', 'ttl', user.samplerPath, 'none'])).code, 0);
  assert.equal(JSON.parse((await cli(['checkpoint', 'info', user.samplerPath, '--json'])).stdout).expiresAt, undefined);
});

test('checkpoint download extracts the checkpoint files; delete removes it', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-cli-dl-'));
  const dest = path.join(out, 'ckpt');
  try {
    const dl = await cli(['checkpoint', 'download', user.weightsPath, '-o', dest]);
    assert.equal(dl.code, 0, dl.stderr);
    // Not a terminal: progress as plain lines on stderr, ending at 100%.
    assert.match(dl.stderr, new RegExp(`^downloading ${user.weightsPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 100% \\(`, 'm'));
    assert.ok(!dl.stderr.includes('\r'));
    const source = path.join(fx.dataDir, 'checkpoints', user.modelId, 'weights', 'w1');
    const files = fs.readdirSync(source, { recursive: true }).map(String).sort();
    assert.deepEqual(fs.readdirSync(dest, { recursive: true }).map(String).sort(), files);
    for (const f of files) {
      if (fs.statSync(path.join(source, f)).isFile()) assert.ok(fs.readFileSync(path.join(source, f)).equals(fs.readFileSync(path.join(dest, f))), f);
    }
    const again = await cli(['checkpoint', 'download', user.weightsPath, '-o', dest]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }

  const del = await cli(['checkpoint', 'delete', user.weightsPath]);
  assert.equal(del.code, 0, del.stderr);
  const gone = await cli(['checkpoint', 'info', user.weightsPath]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /^error: checkpoint \S+ not found\n$/, JSON.stringify(gone.stderr));
});

test('session list and session info', async () => {
  const list = await cli(['session', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.ok(list.stdout.includes(user.sessionId));
  const info = JSON.parse((await cli(['session', 'info', user.sessionId, '--json'])).stdout);
  assert.deepEqual(info.trainingRunIds, [user.modelId]);
  assert.deepEqual(info.samplerIds, [user.samplerId]);
});

test('session export-trace writes the session trace as trace-event JSON', async () => {
  const file = path.join(emptyHome, 'trace.json');
  const r = await cli(['session', 'export-trace', user.sessionId, '-o', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^wrote .*trace\.json \(\d+ requests, \d+ trace events\); open it at https:\/\/ui\.perfetto\.dev/);
  const trace = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(trace.otherData.session_id, user.sessionId);
  const spans = trace.traceEvents.filter((e: any) => e.ph === 'X' && e.cat === 'request').map((e: any) => e.name);
  assert.deepEqual(spans.slice(0, 3), ['create_model', 'save_weights', 'save_weights_for_sampler']);
  const json = JSON.parse((await cli(['session', 'export-trace', user.sessionId, '-o', file, '--json'])).stdout);
  assert.equal(json.file, file);
  assert.equal(json.events, trace.traceEvents.length);
  const missing = await cli(['session', 'export-trace', 'no-such-session', '-o', file]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /session no-such-session not found/);
});

test('dashboard prints the URL of the server\'s dashboard, which serves the page', async () => {
  const r = await cli(['dashboard']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${fx.server.url}/\n`);
  const page = await fetch(r.stdout.trim());
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>tinker-ts dashboard<\/title>/);
  const withPath = await cli(['dashboard', '--base-url', `${fx.server.url}///`]);
  assert.equal(withPath.stdout, `${fx.server.url}/\n`);
  const bad = await cli(['dashboard', '--base-url', 'ftp://x']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--base-url must be an http\(s\) URL/);
  const down = await cli(['dashboard', '--base-url', 'http://127.0.0.1:9']);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach the Tinker server/);
});

test('bad arguments exit 2 with one clear line', async () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /usage/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['run'], /missing subcommand/],
    [['run', 'explode'], /unknown subcommand "run explode"/],
    [['run', 'info'], /missing <run_id>/],
    [['run', 'info', 'a', 'b'], /unexpected argument "b"/],
    [['run', 'list', '--limit', 'abc'], /--limit must be an integer/],
    [['run', 'list', '--run', 'x'], /--run does not apply to "run list"/],
    [['run', 'list', '--bogus'], /unknown option --bogus/],
    [['run', 'list', '--limit'], /--limit needs a value/],
    [['checkpoint', 'info', 'not-a-path'], /tinker:\/\//],
    [['checkpoint', 'info', 'tinker://run/bogus/x'], /weights/],
    [['checkpoint', 'delete', 'tinker://../weights/x'], /run id/],
    [['checkpoint', 'ttl', 'tinker://r/weights/x', '-5'], /unknown option -5|positive number/],
    [['checkpoint', 'ttl', 'tinker://r/weights/x', 'soon'], /positive number of seconds or "none"/],
    [['checkpoint', 'ttl', 'tinker://r/weights/x'], /missing <seconds\|none>/],
    [['checkpoint', 'list', '--json=yes'], /takes no value/],
    [['session', 'info'], /missing <session_id>/],
    [['run', 'list', '--base-url', 'ftp://x'], /http\(s\) URL/],
    [['run', 'list', '--api-key', 'sk-123'], /tml-/],
    [['serve', '--port', '99999'], /--port must be an integer from 0 to 65535/],
    [['serve', '--model', 'noequals'], /NAME=DIR/],
    [['serve', '--model', 'm=/definitely/not/here'], /not a directory/],
    [['serve', '--api-keys', '/definitely/not/here'], /cannot read --api-keys file/],
    [['serve', 'extra'], /unexpected argument "extra"/],
    [['serve', '--engine-cpus', 'one'], /--engine-cpus must be CPU numbers and ranges/],
    [['serve', '--engine-cpus', '3-1'], /--engine-cpus must be CPU numbers and ranges/],
    [['serve', '--limit', 'maxBodyBytes'], /--limit must be NAME=N/],
    [['serve', '--limit', 'max-body-bytes=0'], /positive integer/],
    [['version', 'x'], /unexpected argument/],
  ];
  const results = await Promise.all(cases.map(([args]) => cli(args)));
  results.forEach((r, i) => {
    const [args, pattern] = cases[i]!;
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
    const firstLine = r.stderr.split('\n')[0]!;
    if (args.length > 0) {
      assert.match(firstLine, /^error: /, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
      assert.match(firstLine, pattern, args.join(' '));
    } else {
      assert.match(r.stdout, pattern);
    }
  });
});

test('an unreachable server or a missing object exits 1 with a clear message', async () => {
  const down = await cli(['run', 'list', '--base-url', 'http://127.0.0.1:9']);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^error: cannot reach the Tinker server at http:\/\/127\.0\.0\.1:9/);

  const noServer = await cli(['session', 'list'], { TINKER_BASE_URL: '' });
  assert.equal(noServer.code, 1);
  assert.match(noServer.stderr, /no Tinker server: pass --base-url or set TINKER_BASE_URL/);

  const missing = await cli(['run', 'info', 'no-such-run']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: training run no-such-run not found \(HTTP 404\)\n$/);

  const badKey = await cli(['run', 'list'], { TINKER_API_KEY: 'tml-' });
  assert.equal(badKey.code, 1);
  assert.match(badKey.stderr, /API key/i);
});

test('--engine-cpus takes numbers and ranges as taskset does', () => {
  assert.deepEqual(parseCpuList('1'), [1]);
  assert.deepEqual(parseCpuList('0,2-4, 7'), [0, 2, 3, 4, 7]);
  assert.deepEqual(parseCpuList('1,1-2'), [1, 2]);
  for (const bad of ['', ',', '1-', '-1', '2-1', 'a', '1.5', '99999']) assert.throws(() => parseCpuList(bad), /--engine-cpus/, bad);
});

test('serve: prints its URL, honours --api-keys, records server.json, and stops cleanly on SIGTERM', { timeout: 60_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-cli-serve-'));
  const keys = path.join(dir, 'keys.txt');
  fs.writeFileSync(keys, '# key user\ntml-team-alice alice\ntml-team-bob bob\n');
  const dataDir = path.join(dir, 'data');
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--api-keys', keys, '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (d) => {
        out += d;
        const m = /^tinker-ts server listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out);
        if (m) resolve(m[1]!);
      });
      proc.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    const recorded = JSON.parse(fs.readFileSync(path.join(dataDir, 'server.json'), 'utf8'));
    assert.equal(recorded.url, url);
    assert.equal(recorded.pid, proc.pid);
    assert.equal((await fetch(`${url}/api/v1/healthz`)).status, 200);
    const as = (key: string) => fetch(`${url}/api/v1/training_runs`, { headers: { 'X-API-Key': key } });
    assert.equal((await as('tml-team-alice')).status, 200);
    assert.equal((await as('tml-someone-else')).status, 401, 'only listed keys are accepted');

    // A second server on the same data directory is refused.
    const second = await cli(['serve', '--port', '0', '--data-dir', dataDir]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /already served by process \d+/);

    // The CLI finds the local server through TINKER_HOME when no base URL is given.
    const viaHome = await cli(['run', 'list', '--json'], { TINKER_BASE_URL: '', TINKER_HOME: dataDir, TINKER_API_KEY: 'tml-team-bob' });
    assert.equal(viaHome.code, 0, viaHome.stderr);
    assert.deepEqual(JSON.parse(viaHome.stdout).training_runs, []);

    proc.kill('SIGTERM');
    const [code] = await once(proc, 'exit');
    assert.equal(code, 0);
    assert.equal(fs.existsSync(path.join(dataDir, 'server.json')), false);
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('serve --limit takes request limits by their option name or in kebab case', () => {
  assert.deepEqual(parseLimitOptions(['max-data-body-bytes=67108864', 'maxSampledTokens=1000']), { maxDataBodyBytes: 67108864, maxSampledTokens: 1000 });
  for (const bad of ['maxBodyBytes', 'nope=1', 'max-body-bytes=-1', 'max-body-bytes=1.5', 'max-body-bytes=0']) {
    assert.throws(() => parseLimitOptions([bad]), /--limit/, bad);
  }
});
