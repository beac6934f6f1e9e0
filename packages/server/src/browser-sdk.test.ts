/**
 * The SDK in a real browser: runtime-smoke/browser.mjs bundled by esbuild for platform=browser
 * (the build fails on any Node built-in), served from one origin and run in headless Chromium
 * (Debian's chromium, driven by playwright-core) against a server on another origin that allows
 * it with cors. The page trains (loss goes down), sees a blocking result() refuse at once, and
 * samples. Skips only when chromium is not installed (scripts/setup.sh installs it).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { startServer, type RunningServer } from './server.js';

const CHROMIUM = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(
  (p): p is string => !!p && fs.existsSync(p),
);
const here = path.dirname(fileURLToPath(import.meta.url));
const entry = path.resolve(here, '..', 'runtime-smoke', 'browser.mjs');

let bundle: string;
let page: http.Server;
let pageOrigin: string;
let server: RunningServer;
let dataDir: string;

before(async () => {
  const out = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
  bundle = out.outputFiles[0]!.text;
  page = http.createServer((req, res) => {
    if (req.url === '/smoke.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>smoke</title><script type="module" src="/smoke.js"></script>');
    }
  });
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-browser-'));
  server = await startServer({ dataDir, port: 0, cors: [pageOrigin] });
});

after(async () => {
  await server?.close();
  await new Promise((resolve) => page?.close(resolve));
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('the SDK bundles for browsers without Node built-ins', () => {
  assert.doesNotMatch(bundle, /from\s*["']node:|require\(["']node:/);
  assert.ok(bundle.includes('result() cannot block in a browser'), 'the browser network link is the one bundled');
  assert.ok(!bundle.includes('worker_threads'), 'the worker network link is not bundled');
});

test('in headless Chromium the SDK trains, refuses to block, and samples against a cross-origin server', { skip: CHROMIUM ? false : 'chromium is not installed (apt-get install chromium; scripts/setup.sh does)' }, async () => {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (err) => errors.push(err.message));
    await tab.goto(`${pageOrigin}/`);
    await tab.waitForFunction('typeof window.runSmoke === "function"');
    const seen = (await tab.evaluate(`window.runSmoke(${JSON.stringify(server.url)})`)) as Record<string, unknown>;
    assert.equal(seen['error'], undefined, String(seen['error']));
    assert.ok(typeof seen['first'] === 'number' && typeof seen['second'] === 'number');
    assert.ok((seen['second'] as number) < (seen['first'] as number), `loss went down: ${seen['first']} → ${seen['second']}`);
    assert.match(String(seen['blockingError']), /cannot block in a browser/);
    assert.equal(seen['sampled'], 3);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
