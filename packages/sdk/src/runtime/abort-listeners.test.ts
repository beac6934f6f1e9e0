/**
 * Many concurrent calls share the client's own close signal; they must not trip Node's
 * listener-leak warning (MaxListenersExceededWarning), in the caller's thread or the network one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TESTKIT = fileURLToPath(new URL('../fake-tinker.testkit.js', import.meta.url));
const SERVICE = fileURLToPath(new URL('../service-client.js', import.meta.url));

test('100 concurrent samples emit no process warning', async () => {
  const script = `
import http from 'node:http';
import { startFakeTinker } from ${JSON.stringify(TESTKIT)};
import { ServiceClient } from ${JSON.stringify(SERVICE)};
const warnings = [];
process.on('warning', (w) => warnings.push(w.name + ': ' + w.message));
const peer = await startFakeTinker({ sampleDelayMs: 50 });
// A proxy that holds every sample submission for a moment, so that all 100 are in flight at once.
const proxy = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => setTimeout(async () => {
    const r = await fetch(peer.baseURL + req.url, { method: req.method, headers: { ...req.headers, host: undefined }, body: req.method === 'GET' ? undefined : Buffer.concat(chunks) });
    const body = Buffer.from(await r.arrayBuffer());
    const headers = Object.fromEntries([...r.headers].filter(([k]) => k !== 'content-encoding' && k !== 'content-length' && k !== 'transfer-encoding'));
    res.writeHead(r.status, headers).end(body);
  }, req.url.includes('asample') ? 300 : 0));
});
await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
const service = new ServiceClient({ baseURL: 'http://127.0.0.1:' + proxy.address().port, apiKey: 'tml-test' });
const sc = await service.createSamplingClient({ baseModel: 'Qwen/Qwen3-8B' });
const results = await Promise.all(Array.from({ length: 100 }, (_, i) => sc.sample({ prompt: [i + 1], samplingParams: { maxTokens: 1 } })));
await service.close();
await peer.close();
proxy.close();
console.log(JSON.stringify({ n: results.length, warnings }));
`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-listeners-'));
  const file = path.join(dir, 'many-samples.mjs');
  fs.writeFileSync(file, script);
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 0, err);
  const report = JSON.parse(out.trim().split('\n').pop()!) as { n: number; warnings: string[] };
  assert.equal(report.n, 100);
  assert.deepEqual(report.warnings, []);
  // Warnings raised in the network thread are printed rather than emitted here.
  assert.doesNotMatch(err, /MaxListenersExceededWarning|Warning:/);
});
