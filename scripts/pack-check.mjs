#!/usr/bin/env node
// Packs every published package, installs the tarballs into a fresh app outside the workspace
// (as a user would, with `npm install`), type-checks a strict TypeScript program against them with
// `nodenext` and with `bundler` resolution, and runs it against the embedded default server.
// Also prints what the SDK alone installs (it must stay small: tokenizers are optional peers).
//
//   node scripts/pack-check.mjs [--keep]     (--keep leaves the temp app for a look)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const keep = process.argv.includes('--keep');
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const started = Date.now();

/** The workspace packages that get published (not private), by name → directory. */
const packages = rootPkg.workspaces
  .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => !pkg.private);

const work = mkdtempSync(join(tmpdir(), 'tinker-ts-pack-check-'));
const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...opts });
}

function step(what) {
  console.log(`pack-check: ${what} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

/** Bytes under `dir`, counting each file once (what an install costs on disk). */
function diskBytes(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) total += diskBytes(p);
    else if (entry.isFile()) total += statSync(p).size;
  }
  return total;
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

// npm needs Node's headers to build the engine's addon; where nodejs.org is out of reach, the
// system's headers (Debian's nodejs ships them in /usr/include/node) are used instead.
const nodedir = ['/usr/include/node/node_api.h', '/usr/local/include/node/node_api.h'].find((p) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
});
const npmEnv = { ...process.env, ...(nodedir ? { npm_config_nodedir: resolve(nodedir, '../../..') } : {}) };

try {
  step(`packing ${packages.map((p) => p.pkg.name).join(', ')}`);
  const tarballOf = {};
  for (const { dir, pkg } of packages) {
    const out = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', tarballs], { cwd: join(root, dir) }));
    const file = join(tarballs, out[0].filename);
    tarballOf[pkg.name] = file;
    const shipped = out[0].files.map((f) => f.path);
    const leaked = shipped.filter((p) => /(^|\/)(src|bench|testing)\/|\.test\.|testkit|\.tsbuildinfo$|tsconfig\.json$/.test(p));
    if (leaked.length > 0) throw new Error(`${pkg.name} would ship ${leaked.length} test/source files, e.g. ${leaked.slice(0, 5).join(', ')}`);
    if (!shipped.includes('README.md')) throw new Error(`${pkg.name} ships no README.md`);
    if (!shipped.includes('LICENSE')) throw new Error(`${pkg.name} ships no LICENSE`);
    console.log(`  ${pkg.name}: ${shipped.length} files, ${mb(out[0].unpackedSize)} unpacked`);
  }

  // The workspace's internal deps are not on the registry yet: point them at the tarballs too.
  const overrides = Object.fromEntries(Object.entries(tarballOf).map(([name, file]) => [name, `file:${file}`]));
  const devVersions = rootPkg.devDependencies;

  const installApp = (name, deps) => {
    const dir = join(work, name);
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name, private: true, type: 'module', dependencies: deps, overrides }, null, 2),
    );
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, env: npmEnv });
    return dir;
  };

  step('installing @tinker-ts/sdk alone');
  const sdkOnly = installApp('sdk-only', { '@tinker-ts/sdk': `file:${tarballOf['@tinker-ts/sdk']}` });
  const sdkBytes = diskBytes(join(sdkOnly, 'node_modules'));
  console.log(`  @tinker-ts/sdk installs ${mb(sdkBytes)} with its dependencies (no tokenizers, no server)`);
  if (sdkBytes > 5e6) throw new Error(`@tinker-ts/sdk installs ${mb(sdkBytes)}: more than the 5 MB it should`);
  rmSync(sdkOnly, { recursive: true, force: true });

  step('installing every package into a fresh app');
  const app = installApp('app', {
    ...Object.fromEntries(Object.entries(tarballOf).map(([name, file]) => [name, `file:${file}`])),
    typescript: devVersions.typescript,
    '@types/node': devVersions['@types/node'],
  });
  console.log(`  all packages install ${mb(diskBytes(join(app, 'node_modules')))}`);

  const program = `
import { ServiceClient, Datum, type TrainingClient, BadRequestError, TinkerError } from '@tinker-ts/sdk';
import { startServer } from '@tinker-ts/server';
import { parseTinkerPath, type SamplingParams } from '@tinker-ts/protocol';
import type { EngineOptions } from '@tinker-ts/engine';

const params: SamplingParams = { max_tokens: 4, temperature: 0 };
const kernels: EngineOptions['kernels'] = 'native';
const model = { name: 'tinker-ts/tiny-qwen3', kernels };
void startServer;
void BadRequestError;

async function awaitStyle(service: ServiceClient): Promise<string> {
  const training: TrainingClient = await service.createLoraTrainingClient({ baseModel: model.name, rank: 4 });
  const tokens = (await training.getTokenizer()).encode('packed and installed');
  const datum = Datum.fromTokens(tokens);
  const first = training.forwardBackward([datum], 'cross_entropy');
  const optim = training.optimStep({ learningRate: 1e-2 });
  const loss = (await first).metrics['loss:sum'];
  await optim;
  if (!(typeof loss === 'number' && loss > 0)) throw new Error('no loss: ' + String(loss));
  const sampler = await training.saveWeightsAndGetSamplingClient();
  const out = await sampler.sample({ prompt: tokens, samplingParams: { maxTokens: params.max_tokens ?? 4, temperature: 0 } });
  if (out.sequences[0]!.tokens.length === 0) throw new Error('no tokens sampled');
  const saved = await training.saveState('pack-check');
  parseTinkerPath(saved.path);
  return saved.path;
}

function blockingStyle(service: ServiceClient): number {
  const training = service.createLoraTrainingClient({ baseModel: model.name, rank: 4 }).result();
  const tokens = training.getTokenizer().result().encode('blocking style');
  const fb = training.forwardBackward([Datum.fromTokens(tokens)], 'cross_entropy');
  training.optimStep({ learningRate: 1e-2 }).result();
  return fb.result().metrics['loss:sum'] as number;
}

const service = new ServiceClient();
try {
  const path = await awaitStyle(service);
  const loss = blockingStyle(service);
  try {
    await service.createLoraTrainingClient({ baseModel: 'no/such-model', rank: 4 });
    throw new Error('an unknown model was accepted');
  } catch (e) {
    if (!(e instanceof TinkerError)) throw e;
  }
  console.log('pack-check app: trained, sampled and saved ' + path + '; blocking loss ' + loss.toFixed(3));
} finally {
  await service.close();
}
`;
  writeFileSync(join(app, 'main.ts'), program);
  const base = { strict: true, noUncheckedIndexedAccess: true, skipLibCheck: false, target: 'es2022', types: ['node'], noEmit: true };
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...base, module: 'nodenext', moduleResolution: 'nodenext', noEmit: false, outDir: 'out' }, files: ['main.ts'] }));
  writeFileSync(join(app, 'tsconfig.bundler.json'), JSON.stringify({ compilerOptions: { ...base, module: 'esnext', moduleResolution: 'bundler' }, files: ['main.ts'] }));

  const tsc = join(app, 'node_modules', 'typescript', 'bin', 'tsc');
  step('type-checking with moduleResolution bundler');
  run(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], { cwd: app, stdio: 'inherit' });
  step('type-checking and compiling with module nodenext');
  run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app, stdio: 'inherit' });

  step('running the app against the embedded default server');
  writeFileSync(join(app, 'out', 'package.json'), JSON.stringify({ type: 'module' }));
  const env = { ...process.env, TINKER_HOME: join(work, 'tinker-home') };
  delete env.TINKER_BASE_URL;
  delete env.TINKER_API_KEY;
  run(process.execPath, [join(app, 'out', 'main.js')], { cwd: app, env, stdio: 'inherit', timeout: 600_000 });
  step('passed');
} finally {
  if (keep) console.log(`pack-check: left ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
