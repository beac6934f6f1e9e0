// Each example is both a module (the tests import `main`) and a script; this runs it as a script.
import { fileURLToPath } from 'node:url';

/** Runs `run` when `moduleUrl` is the file node was started with; exits 0, or 1 after printing the error. */
export function runIfMain(moduleUrl: string, name: string, run: () => Promise<unknown>): void {
  if (process.argv[1] !== fileURLToPath(moduleUrl)) return;
  run().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${name} failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
