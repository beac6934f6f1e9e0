/**
 * The official Tinker Python SDK, unchanged, against this server: runs
 * python-compat/official_sdk_smoke.py (training, checkpoints, sampling, async calls, REST) as a
 * separate process against a server started here on a free port.
 *
 * Needs a copy of the SDK: set TINKER_PY_PATH to the PYTHONPATH that makes `import tinker` work
 * (its src/ plus its dependencies), and optionally TINKER_PYTHON (default python3). Without
 * them the test is skipped, saying why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerSettings } from './context.js';
import { startServer } from './server.js';

const SMOKE_SCRIPT = fileURLToPath(new URL('../python-compat/official_sdk_smoke.py', import.meta.url));
const PYTHON = process.env['TINKER_PYTHON'] || 'python3';
const SDK_PATH = process.env['TINKER_PY_PATH'];
/** One run of the script takes ~15 s on 2 cores; this bounds a hang, not a slow run. */
const SCRIPT_TIMEOUT_MS = 240_000;

function pythonEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // The SDK reads these; a developer's own settings must not redirect the run.
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONPATH: SDK_PATH, PYTHONUNBUFFERED: '1' };
  for (const key of ['TINKER_API_KEY', 'TINKER_BASE_URL', 'TINKER_CREDENTIAL_CMD', 'TINKER_PROJECT_ID', 'TINKER_TAGS', 'TINKER_SUBPROCESS_SAMPLING']) {
    delete env[key];
  }
  return { ...env, ...extra };
}

/** Why the test cannot run here, or null if it can. */
function skipReason(): string | null {
  if (!SDK_PATH) {
    return 'TINKER_PY_PATH is not set: point it at a PYTHONPATH holding the official Tinker Python SDK (see packages/server/python-compat/README.md)';
  }
  const probe = spawnSync(PYTHON, ['-c', 'import tinker; print(tinker.__version__)'], { env: pythonEnv(), encoding: 'utf8', timeout: 60_000 });
  if (probe.error) return `${PYTHON} cannot be run: ${probe.error.message}`;
  if (probe.status !== 0) {
    const lastLine = probe.stderr.trim().split('\n').pop() ?? '';
    return `"${PYTHON} -c 'import tinker'" fails with TINKER_PY_PATH=${SDK_PATH}: ${lastLine}`;
  }
  return null;
}

interface ScriptRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Asynchronous, so the server in this process keeps answering while the script runs. */
function runSmoke(baseUrl: string, extraEnv: Record<string, string>): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SMOKE_SCRIPT, '--base-url', baseUrl], { env: pythonEnv(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), SCRIPT_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

const reason = skipReason();
if (reason) console.log(`# python-compat skipped: ${reason}`);

/**
 * Server settings that send the SDK down its other paths: zstd-compressed forward_backward
 * bodies, models created by create_model and then load_weights, results reached only after
 * `try_again` polls and a `complete_metadata` peek; and, client side, sampling from a
 * subprocess (whose unpickled clients number requests from k·10^9).
 */
const ALTERNATIVE_PATHS: Partial<ServerSettings> = {
  compressForwardBackward: true,
  createModelViaLoadWeights: false,
  longPollMs: 200,
  metadataOnlyThresholdBytes: 64,
};

const ALTERNATIVE_CLIENT_ENV = { TINKER_SUBPROCESS_SAMPLING: '1' };

async function smokeAgainst(settings: Partial<ServerSettings>, extraEnv: Record<string, string> = {}): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-python-compat-'));
  const server = await startServer({ dataDir, port: 0, settings });
  try {
    const run = await runSmoke(server.url, extraEnv);
    assert.equal(run.code, 0, `official_sdk_smoke.py exited with ${run.code ?? run.signal}:\n${run.output}`);
    assert.match(run.output, /all steps passed/);
  } finally {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const options = { skip: reason ?? false, timeout: SCRIPT_TIMEOUT_MS + 60_000 };

test('the official Python SDK trains, checkpoints, samples and lists against this server', options, () => smokeAgainst({}));

test('the official Python SDK works over compressed bodies, load_weights after create_model, try_again, metadata peeks and subprocess sampling', options, () =>
  smokeAgainst(ALTERNATIVE_PATHS, ALTERNATIVE_CLIENT_ENV),
);
