import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TinkerError } from '../errors.js';
import { checkApiKey, resolveApiKey, resolveServerAddress } from './credentials.js';

/** Runs `fn` with some environment variables replaced (undefined = unset). */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const emptyHome = () => mkdtempSync(join(tmpdir(), 'tinker-home-'));

test('keys must start with tml- or eyJ', () => {
  assert.equal(checkApiKey('tml-abc'), 'tml-abc');
  assert.equal(checkApiKey('eyJhbGci'), 'eyJhbGci');
  assert.throws(() => checkApiKey('sk-123'), (e: unknown) => e instanceof TinkerError && /'tml-'/.test(e.message));
});

test('the key comes from the option, then TINKER_API_KEY, then the credential command, then the file', async () => {
  const home = emptyHome();
  mkdirSync(join(home, '.tinker'));
  writeFileSync(join(home, '.tinker', 'credentials.json'), JSON.stringify({ api_key: 'tml-from-file' }));
  await withEnv({ HOME: home, TINKER_API_KEY: 'tml-from-env', TINKER_CREDENTIAL_CMD: 'echo tml-from-cmd' }, async () => {
    assert.equal(await resolveApiKey('tml-option'), 'tml-option');
    assert.equal(await resolveApiKey(undefined), 'tml-from-env');
  });
  await withEnv({ HOME: home, TINKER_API_KEY: undefined, TINKER_CREDENTIAL_CMD: 'echo "  tml-from-cmd  "' }, async () => {
    assert.equal(await resolveApiKey(undefined), 'tml-from-cmd');
  });
  await withEnv({ HOME: home, TINKER_API_KEY: undefined, TINKER_CREDENTIAL_CMD: undefined }, async () => {
    assert.equal(await resolveApiKey(undefined), 'tml-from-file');
  });
});

test('the embedded server key wins over environment keys, not over an explicit option', async () => {
  await withEnv({ TINKER_API_KEY: 'tml-env' }, async () => {
    assert.equal(await resolveApiKey(undefined, 'tml-embedded'), 'tml-embedded');
    assert.equal(await resolveApiKey('tml-mine', 'tml-embedded'), 'tml-mine');
  });
});

test('no key anywhere, or a failing credential command, gives a clear error', async () => {
  await withEnv({ HOME: emptyHome(), TINKER_API_KEY: undefined, TINKER_CREDENTIAL_CMD: undefined }, async () => {
    await assert.rejects(resolveApiKey(undefined), (e: unknown) => e instanceof TinkerError && /TINKER_API_KEY/.test(e.message));
  });
  await withEnv({ HOME: emptyHome(), TINKER_API_KEY: undefined, TINKER_CREDENTIAL_CMD: 'exit 3' }, async () => {
    await assert.rejects(resolveApiKey(undefined), /TINKER_CREDENTIAL_CMD failed/);
  });
  await withEnv({ HOME: emptyHome(), TINKER_API_KEY: undefined, TINKER_CREDENTIAL_CMD: 'true' }, async () => {
    await assert.rejects(resolveApiKey(undefined), /empty credential/);
  });
});

test('the base URL comes from the option, then TINKER_BASE_URL', async () => {
  await withEnv({ TINKER_BASE_URL: 'http://env:1' }, async () => {
    assert.deepEqual(await resolveServerAddress('http://opt:2'), { baseURL: 'http://opt:2' });
    assert.deepEqual(await resolveServerAddress(undefined), { baseURL: 'http://env:1' });
  });
});

test('without a base URL the embedded server is started in TINKER_HOME and its address and key used', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tinker-embedded-'));
  const mod = join(dir, 'embedded.mjs');
  writeFileSync(mod, `export async function ensureEmbeddedServer(opts) { return { baseURL: 'http://127.0.0.1:9/' + encodeURIComponent(opts.dataDir), apiKey: 'tml-local' }; }`);
  await withEnv({ TINKER_BASE_URL: undefined, TINKER_HOME: '/data/tinker' }, async () => {
    const addr = await resolveServerAddress(undefined, new URL(`file://${mod}`).href);
    assert.deepEqual(addr, { baseURL: `http://127.0.0.1:9/${encodeURIComponent('/data/tinker')}`, apiKey: 'tml-local' });
  });
});
