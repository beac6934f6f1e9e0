#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) of the packages and examples with
// Node's built-in test runner. Usage: node scripts/run-tests.mjs [package-or-dir ...]
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = resolve(new URL('..', import.meta.url).pathname);
const roots = process.argv.slice(2).length
  ? process.argv.slice(2).map((p) => resolve(p))
  : [...readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p)), join(root, 'examples')];

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = [];
for (const r of roots) {
  const dist = existsSync(join(r, 'dist')) ? join(r, 'dist') : r;
  if (existsSync(dist)) collect(dist, files);
}
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=300000', ...files], { stdio: 'inherit' });
process.exit(res.status ?? 1);
