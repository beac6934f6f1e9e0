/**
 * The embedded default end to end: a program that only says `new ServiceClient()` (no base URL,
 * no TINKER_BASE_URL) gets a local server in a child process, trains two steps on it, and
 * leaves no server behind when it exits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SDK = fileURLToPath(new URL('../../sdk/dist/index.js', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('new ServiceClient() starts an embedded server, trains two steps, and the server is gone after exit', { timeout: 120_000 }, async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-embedded-client-'));
  const script = path.join(home, 'program.mjs');
  fs.writeFileSync(
    script,
    `import { ServiceClient, Datum } from ${JSON.stringify(SDK)};
import fs from 'node:fs';
const service = new ServiceClient();
const training = await service.createLoraTrainingClient({ baseModel: 'tinker-ts/tiny-qwen3', rank: 8, seed: 1 });
const batch = [Datum.fromTokens([151644, 872, 198, 9707, 0, 151645]), Datum.fromTokens([151644, 77091, 198, 13048, 151645])];
const losses = [];
for (let step = 0; step < 2; step++) {
  const fb = training.forwardBackward(batch, 'cross_entropy');
  const opt = training.optimStep({ learningRate: 1e-2 });
  losses.push((await fb).metrics['loss:sum']);
  await opt;
}
const server = JSON.parse(fs.readFileSync(process.env.TINKER_HOME + '/server.json', 'utf8'));
console.log(JSON.stringify({ losses, serverPid: server.pid }));
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env, TINKER_HOME: home };
  delete env.TINKER_BASE_URL;
  delete env.TINKER_API_KEY;
  const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    assert.equal(code, 0, `program failed: ${err}`);
    const report = JSON.parse(out.trim().split('\n').pop()!) as { losses: number[]; serverPid: number };
    assert.equal(report.losses.length, 2);
    assert.ok(report.losses.every(Number.isFinite), JSON.stringify(report.losses));
    assert.ok(report.losses[1]! < report.losses[0]!, `loss did not fall: ${JSON.stringify(report.losses)}`);
    assert.notEqual(report.serverPid, child.pid, 'the server ran in its own process');
    assert.match(err, /local Tinker server/, 'the program was told where its server runs');
    const deadline = Date.now() + 15_000;
    while (alive(report.serverPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(report.serverPid), false, 'the embedded server outlived the program');
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});
