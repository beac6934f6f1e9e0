// Where OpenBLAS is, for binding.gyp: `node scripts/openblas-flags.cjs include|libs`.
// pkg-config first (Debian/Ubuntu, Fedora, Homebrew's openblas), then the usual directories.
// Without OpenBLAS the install stops here with what to install, not with a compiler error.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const what = process.argv[2];

function pkgConfig(args) {
  for (const name of ['openblas', 'cblas']) {
    try {
      return execFileSync('pkg-config', [...args, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      // not installed, or no such package: try the next
    }
  }
  return undefined;
}

const INCLUDE_DIRS = [
  '/usr/include/openblas', '/usr/include/x86_64-linux-gnu', '/usr/include/aarch64-linux-gnu', '/usr/include',
  '/usr/local/include', '/opt/homebrew/opt/openblas/include', '/usr/local/opt/openblas/include',
];

function fail() {
  process.stderr.write(
    '\n@tinker-ts/engine: OpenBLAS was not found (no `pkg-config openblas`, no cblas.h in the usual places).\n' +
    '  Debian/Ubuntu: sudo apt-get install libopenblas-dev pkg-config\n' +
    '  Fedora:        sudo dnf install openblas-devel pkgconf\n' +
    '  Elsewhere: install OpenBLAS and make `pkg-config --cflags --libs openblas` work (PKG_CONFIG_PATH).\n\n',
  );
  process.exit(1);
}

if (what === 'include') {
  const flags = pkgConfig(['--cflags-only-I']);
  if (flags !== undefined) {
    const dirs = flags.split(/\s+/).filter(Boolean).map((f) => f.replace(/^-I/, ''));
    if (dirs.length === 0 || dirs.some((d) => fs.existsSync(path.join(d, 'cblas.h')))) {
      process.stdout.write(dirs.join(' '));
      process.exit(0);
    }
  }
  const dir = INCLUDE_DIRS.find((d) => fs.existsSync(path.join(d, 'cblas.h')));
  if (!dir) fail();
  process.stdout.write(dir);
} else if (what === 'libs') {
  const flags = pkgConfig(['--libs']);
  process.stdout.write(flags ?? '-lopenblas');
} else {
  process.stderr.write('usage: openblas-flags.cjs include|libs\n');
  process.exit(2);
}
