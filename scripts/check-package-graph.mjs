#!/usr/bin/env node
// Checks that the workspace's packages form a graph without cycles at run time: every
// `@tinker-ts/*` module named in shipped code (static imports, and the specifiers of optional
// dynamic imports) is declared in `dependencies` or `peerDependencies`, and those edges have no
// cycle. Tests, their kits and benchmarks (none of which ship: see each package's `files`) may
// use any package through `devDependencies`.
// Usage: node scripts/check-package-graph.mjs (exit 1 with the reason when the graph is wrong).
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, resolve, relative } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const dirs = [...readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p)), join(root, 'examples')].filter((d) =>
  existsSync(join(d, 'package.json')),
);

const isTestCode = (file) => /\.test\.ts$|testkit\.ts$|[\\/]testing[\\/]|[\\/]src[\\/]bench[\\/]/.test(file);

function sources(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const packages = new Map();
for (const dir of dirs) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})].filter((n) => n.startsWith('@tinker-ts/')));
  packages.set(pkg.name, { dir, declared, used: new Map() });
}

const problems = [];
for (const [name, info] of packages) {
  const src = join(info.dir, 'src');
  if (!existsSync(src)) continue;
  for (const file of sources(src)) {
    if (isTestCode(file)) continue;
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    for (const m of text.matchAll(/['"`](@tinker-ts\/[a-z0-9-]+)(?:\/[^'"`]*)?['"`]/g)) {
      const target = m[1];
      if (target === name) continue;
      if (!packages.has(target)) problems.push(`${relative(root, file)} names ${target}, which is not a workspace package`);
      else if (!info.declared.has(target)) problems.push(`${relative(root, file)} uses ${target}, not in ${name}'s dependencies or peerDependencies`);
      if (!info.used.has(target)) info.used.set(target, relative(root, file));
    }
  }
}

// Depth-first search for a cycle over the declared run-time edges.
const state = new Map();
const order = [];
function visit(name, path) {
  if (state.get(name) === 'done') return;
  if (state.get(name) === 'open') {
    problems.push(`cycle: ${[...path.slice(path.indexOf(name)), name].join(' → ')}`);
    return;
  }
  state.set(name, 'open');
  for (const dep of packages.get(name)?.declared ?? []) visit(dep, [...path, name]);
  state.set(name, 'done');
  order.push(name);
}
for (const name of packages.keys()) visit(name, []);

if (problems.length) {
  console.error(`package graph: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(`package graph: no cycles; build order ${order.join(' → ')}`);
