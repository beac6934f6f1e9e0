/**
 * The SDK under Bun and Deno (both npm devDependencies that ship their binaries): the smoke
 * program trains, blocks on result() and samples against a server; the embedded default starts
 * its server under Node (the store's better-sqlite3 loads only there) and, with no node on PATH,
 * says so at once.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer } from './server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const smokeDir = path.resolve(here, '..', 'runtime-smoke');
const repoBin = path.resolve(here, '..', '..', '..', 'node_modules', '.bin');
const runtimes = { bun: ['run'], deno: ['run', '-A'] } as const;
type Runtime = keyof typeof runtimes;

function binary(name: Runtime): string | null {
  const file = path.join(repoBin, name);
  return fs.existsSync(file) ? file : null;
}

function missing(name: Runtime): string | false {
  return binary(name) ? false : `${name} is not installed (it is a devDependency: run npm ci at the repository root)`;
}

let server: RunningServer;
let dataDir: string;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-runtimes-'));
  server = await startServer({ dataDir, port: 0 });
});

after(async () => {
  await server.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Runs `script` under `name` without blocking this process (whose event loop serves `server`). */
function run(name: Runtime, script: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(binary(name)!, [...runtimes[name], script], { cwd: smokeDir, env: { ...env, NO_COLOR: '1' }, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      const status = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0;
      resolve({ status, stdout, stderr });
    });
  });
}

for (const name of Object.keys(runtimes) as Runtime[]) {
  test(`under ${name}: the SDK trains (await and blocking result()) and samples against a server`, { skip: missing(name) }, async () => {
    const out = await run(name, 'smoke.mjs', { ...process.env, TINKER_BASE_URL: server.url });
    assert.equal(out.status, 0, `${name} exited ${out.status}: ${out.stderr}`);
    const seen = JSON.parse(out.stdout.trim().split('\n').at(-1)!) as { awaited: number; blocked: number; sampled: number };
    assert.ok(seen.awaited > 0, `loss ${seen.awaited}`);
    assert.ok(seen.blocked < seen.awaited, `one optimStep lowers the loss: ${seen.awaited} → ${seen.blocked}`);
    assert.equal(seen.sampled, 3);
  });

  test(`under ${name}: the embedded default runs its server under Node, or says it needs Node`, { skip: missing(name) }, async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), `tinker-${name}-home-`));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, TINKER_HOME: home };
      delete env['TINKER_BASE_URL'];
      // node first on PATH: the server starts and answers.
      const withNode = await run(name, 'embedded.mjs', { ...env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${env['PATH'] ?? ''}` });
      assert.equal(withNode.status, 0, withNode.stderr);
      assert.match(withNode.stdout, /^models: .*tinker-ts\/tiny-qwen3/m);
      // No node anywhere: a clear error naming the way out, not a crash inside better-sqlite3.
      const withoutNode = await run(name, 'embedded.mjs', { ...env, PATH: '/nonexistent' });
      assert.notEqual(withoutNode.status, 0);
      assert.match(withoutNode.stdout + withoutNode.stderr, /runs on Node\.js .* no node is on PATH: install Node\.js 20 or newer \(or set TINKER_NODE/);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
}
