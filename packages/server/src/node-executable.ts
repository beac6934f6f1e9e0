/**
 * The Node.js executable that runs a local server. Under Node it is this process's own. Bun and
 * Deno run the SDK, and even the engine's Node-API addon, but not better-sqlite3 (a
 * NAN addon), which the server's store needs: there the server runs under the `node` found on
 * PATH (or TINKER_NODE), and without one the error says so.
 */
import fs from 'node:fs';
import path from 'node:path';

/** 'bun', 'deno' or 'node': the runtime this process is. */
export function currentRuntime(): 'bun' | 'deno' | 'node' {
  if (process.versions['bun']) return 'bun';
  if (process.versions['deno']) return 'deno';
  return 'node';
}

export function nodeExecutable(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = currentRuntime();
  if (runtime === 'node') return process.execPath;
  const configured = env['TINKER_NODE'];
  if (configured) {
    if (!isExecutable(configured)) throw new Error(`TINKER_NODE is ${configured}, which is not an executable file`);
    return configured;
  }
  // `bun run` puts a `node` on PATH that is Bun itself: skip anything that resolves to this runtime.
  const self = realPath(process.execPath);
  for (const dir of (env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, process.platform === 'win32' ? 'node.exe' : 'node');
    if (isExecutable(candidate) && realPath(candidate) !== self) return candidate;
  }
  throw new Error(
    `the local Tinker server runs on Node.js (its store uses better-sqlite3, which ${runtime} cannot load), and no node is on PATH: ` +
      'install Node.js 20 or newer (or set TINKER_NODE to its executable), or set TINKER_BASE_URL to a running server',
  );
}

function realPath(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return file;
  }
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
