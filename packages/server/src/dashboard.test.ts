/**
 * The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core):
 * against a server that trained three steps and reported a logprob gap, the page asks for a
 * key, lists the run and draws its loss curve with one point per step and the gap curve; a
 * screenshot is saved to artifacts/dashboard.png. Skips only when chromium is not installed
 * (scripts/setup.sh installs it).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer } from './server.js';
import { TestClient, tinyBatch } from './testkit.js';

const CHROMIUM = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(
  (p): p is string => !!p && fs.existsSync(p),
);
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCREENSHOT = path.join(REPO_ROOT, 'artifacts', 'dashboard.png');
const STEPS = 3;
const ADAM = { learning_rate: 5e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0, grad_clip_norm: 0 };

let server: RunningServer;
let dataDir: string;
let modelId: string;

before(async () => {
  if (!CHROMIUM) return;
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-dashboard-'));
  server = await startServer({ dataDir, port: 0 });
  const client = new TestClient(server.url, 'tml-dashboard');
  const sessionId = await client.createSession();
  modelId = await client.createModel(sessionId, 0, 2, 5);
  let seq = 1;
  for (let step = 0; step < STEPS; step++) {
    const fb = await client.forwardBackwardProto({
      forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null },
      model_id: modelId,
      seq_id: seq++,
      forward_only: false,
    });
    const opt = await client.post('optim_step', { model_id: modelId, seq_id: seq++, adam_params: ADAM });
    await client.forwardBackwardResult(fb.json.request_id);
    await client.result(opt.request_id);
    await client.post(`training_runs/${encodeURIComponent(modelId)}/metrics`, { step, metrics: { kl_sample_train_v1: 0.01 / (step + 1) } });
  }
  const save = await client.post('save_weights', { model_id: modelId, path: 'step-3', seq_id: seq++ });
  await client.result(save.request_id);
});

after(async () => {
  if (!CHROMIUM) return;
  await server.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('the dashboard shows the run, one loss point per step and the logprob gap', { skip: CHROMIUM ? false : 'chromium is not installed (apt-get install chromium; scripts/setup.sh does)' }, async () => {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#status:has-text("enter an API key")');
    await page.fill('#api-key', 'tml-dashboard');
    await page.click('#key-form button');

    await page.waitForSelector(`#runs tr[data-run="${modelId}"].selected`);
    await page.waitForSelector(`#loss-chart svg[data-points="${STEPS}"]`, { timeout: 15_000 });
    assert.equal(await page.locator('#loss-chart circle.pt').count(), STEPS, 'one loss point per step');
    await page.waitForSelector('#gap-figure:not([hidden]) #gap-chart svg[data-points="3"]');
    await page.waitForSelector('#checkpoints td:has-text("weights/step-3")', { timeout: 15_000 });
    await page.waitForSelector(`#sessions td code`);
    assert.match(await page.locator('#utilisation').innerText(), /% busy/);
    assert.equal(await page.evaluate('localStorage.getItem("tinker-ts.apiKey")'), 'tml-dashboard', 'the key is kept for the next visit');

    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.deepEqual(errors, [], 'no script errors in the page');

    // Another user's key shows none of it.
    await page.fill('#api-key', 'tml-someone-else');
    await page.click('#key-form button');
    await page.waitForSelector('#runs td:has-text("no training runs")');
  } finally {
    await browser.close();
  }
});
