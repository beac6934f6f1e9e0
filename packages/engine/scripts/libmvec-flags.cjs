// `-lmvec` for binding.gyp when the toolchain has glibc's vector math library (glibc on x86_64;
// recent glibc on aarch64 too), else nothing (musl, macOS). -ffast-math calls libmvec's
// vectorised expf only where the C library's headers declare it, so where it is missing
// nothing needs it.
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');

// The compiler prints the library's full path if its search path has it, else the bare name.
let found = '';
try {
  found = execFileSync(process.env.CXX || 'c++', ['-print-file-name=libmvec.so'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }).trim();
} catch {
  // no compiler on PATH under that name: the build reports that itself
}
process.stdout.write(path.isAbsolute(found) ? '-lmvec' : '');
