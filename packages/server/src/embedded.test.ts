/**
 * ensureEmbeddedServer, driven from separate node processes: it starts a child server, a second
 * call (same or another process) reuses it, concurrent first calls start only one, and the
 * child is gone once the process that started it exits — normally or by SIGKILL.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const EMBEDDED = fileURLToPath(new URL('./embedded.js', import.meta.url));

let work: string;
let parentScript: string;
/** Every parent process started, killed at the end whatever happened. */
const parents: ChildProcess[] = [];

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-embedded-'));
  parentScript = path.join(work, 'parent.mjs');
  // Calls ensureEmbeddedServer twice, reports, then lives until its stdin closes.
  fs.writeFileSync(
    parentScript,
    `import { ensureEmbeddedServer } from ${JSON.stringify(EMBEDDED)};
import fs from 'node:fs';
const dataDir = process.argv[2];
const a = await ensureEmbeddedServer({ dataDir });
const b = await ensureEmbeddedServer({ dataDir });
const health = await fetch(a.baseURL + '/api/v1/healthz');
const info = JSON.parse(fs.readFileSync(dataDir + '/server.json', 'utf8'));
console.log(JSON.stringify({ a, b, healthy: health.ok, serverPid: info.pid }));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`,
  );
});

after(() => {
  for (const p of parents) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
});

interface Report {
  a: { baseURL: string; apiKey: string };
  b: { baseURL: string; apiKey: string };
  healthy: boolean;
  serverPid: number;
}

function startParent(dataDir: string): { proc: ChildProcess; report: Promise<Report>; stderr: () => string } {
  const proc = spawn(process.execPath, [parentScript, dataDir], { stdio: ['pipe', 'pipe', 'pipe'] });
  parents.push(proc);
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const report = new Promise<Report>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as Report);
    });
    proc.once('exit', (code) => reject(new Error(`parent exited (${code}) before reporting: ${err}`)));
  });
  return { proc, report, stderr: () => err };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms = 15_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !alive(pid);
}

test('starts a child server, reuses it from a second call and another process, and stops it when the parent exits', { timeout: 90_000 }, async () => {
  const dataDir = path.join(work, 'home-a');
  const first = startParent(dataDir);
  const r1 = await first.report;
  assert.match(r1.a.baseURL, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(r1.b.baseURL, r1.a.baseURL, 'second call in the same process reuses it');
  assert.equal(r1.b.apiKey, r1.a.apiKey);
  assert.match(r1.a.apiKey, /^tml-/);
  assert.equal(r1.healthy, true);
  assert.ok(alive(r1.serverPid));
  assert.notEqual(r1.serverPid, first.proc.pid);
  assert.match(first.stderr(), /started a local Tinker server at http:\/\/127\.0\.0\.1:\d+ .*data in /, 'one notice on stderr');
  assert.equal(first.stderr().match(/started a local Tinker server/g)!.length, 1);

  const second = startParent(dataDir);
  const r2 = await second.report;
  assert.equal(r2.a.baseURL, r1.a.baseURL, 'another process reuses the live server');
  assert.equal(r2.serverPid, r1.serverPid);
  assert.equal(r2.a.apiKey, r1.a.apiKey, 'same key: same user, same runs');
  assert.equal(second.stderr(), '', 'no notice when reusing');
  second.proc.stdin!.end();
  await once(second.proc, 'exit');
  assert.ok(alive(r1.serverPid), 'a reusing process does not stop it');

  first.proc.stdin!.end();
  await once(first.proc, 'exit');
  assert.ok(await waitGone(r1.serverPid), 'the server is gone after its parent exits');
  assert.equal(fs.existsSync(path.join(dataDir, 'server.json')), false);
});

test('concurrent first calls start one server, which dies with its parent even on SIGKILL', { timeout: 90_000 }, async () => {
  const dataDir = path.join(work, 'home-b');
  const p1 = startParent(dataDir);
  const p2 = startParent(dataDir);
  const [r1, r2] = await Promise.all([p1.report, p2.report]);
  assert.equal(r1.a.baseURL, r2.a.baseURL);
  assert.equal(r1.serverPid, r2.serverPid);
  const notices = (p1.stderr() + p2.stderr()).match(/started a local Tinker server/g) ?? [];
  assert.equal(notices.length, 1, 'exactly one process started a server');
  assert.equal(fs.existsSync(path.join(dataDir, 'server.lock')), false, 'lock released');

  p1.proc.kill('SIGKILL');
  p2.proc.kill('SIGKILL');
  await Promise.all([once(p1.proc, 'exit'), once(p2.proc, 'exit')]);
  assert.ok(await waitGone(r1.serverPid), 'the server is gone after its parent was killed');
});

test('a program started right after another one exits gets a server for the same data dir', async () => {
  const dataDir = path.join(work, 'back-to-back');
  const script = path.join(work, 'short.mjs');
  fs.writeFileSync(
    script,
    `import { ensureEmbeddedServer } from ${JSON.stringify(EMBEDDED)};
const s = await ensureEmbeddedServer({ dataDir: process.argv[2] });
const res = await fetch(s.baseURL + '/api/v1/healthz');
console.log(res.ok ? 'ok' : 'unhealthy');
`,
  );
  for (let i = 0; i < 2; i++) {
    const proc = spawn(process.execPath, [script, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    parents.push(proc);
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (err += d));
    const [code] = (await once(proc, 'exit')) as [number | null];
    assert.equal(code, 0, `program ${i + 1} failed: ${err}`);
    assert.equal(out.trim(), 'ok');
  }
});

test('two callers in one process share one live server', async () => {
  const dataDir = path.join(work, 'one-process');
  const { proc, report } = startParent(dataDir);
  const r = await report;
  assert.equal(r.a.baseURL, r.b.baseURL);
  assert.equal(r.healthy, true);
  proc.stdin!.end();
  await once(proc, 'exit');
});
