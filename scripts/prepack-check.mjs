#!/usr/bin/env node
// Runs before `npm pack` / `npm publish` of a package (its `prepack` script): refuses to pack a
// package whose build is missing or older than its sources, or that lacks README.md or LICENSE.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.cwd();
const problems = [];
for (const file of ['README.md', 'LICENSE', 'package.json']) {
  if (!existsSync(join(dir, file))) problems.push(`no ${file}`);
}

/** Newest modification time of the files under `d` whose name passes `keep`. */
function newest(d, keep) {
  let latest = 0;
  for (const entry of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(p, keep));
    else if (keep(entry.name)) latest = Math.max(latest, statSync(p).mtimeMs);
  }
  return latest;
}

if (!existsSync(join(dir, 'dist'))) problems.push('no dist/: run `npm run build` at the repository root first');
else if (existsSync(join(dir, 'src'))) {
  const sources = newest(join(dir, 'src'), (n) => n.endsWith('.ts') && !n.endsWith('.test.ts'));
  const built = newest(join(dir, 'dist'), (n) => n.endsWith('.js'));
  if (sources > built) problems.push('dist/ is older than src/: run `npm run build` at the repository root first');
}

if (problems.length > 0) {
  console.error(`cannot pack ${dir}: ${problems.join('; ')}`);
  process.exit(1);
}
