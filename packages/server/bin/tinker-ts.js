#!/usr/bin/env node
// The `tinker-ts` command: runs the compiled CLI (build with `npm run build` at the repo root).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // The engine worker and sockets are closed by then; do not wait on stray timers.
    setImmediate(() => process.exit(code));
  },
  (err) => {
    process.stderr.write(`error: ${String(err)}\n`);
    process.exit(1);
  },
);
