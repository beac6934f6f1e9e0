// The local machine on Node (and Bun and Deno).
import { exec } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { LocalSystem } from './local-system.js';

const require = createRequire(import.meta.url);

function missing(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export const localSystem: LocalSystem = {
  homeDir: () => homedir(),
  joinPath: (...parts) => join(...parts),
  async readTextFile(path) {
    try {
      return await readFile(path, 'utf8');
    } catch (e) {
      if (missing(e)) return undefined;
      throw e;
    }
  },
  readTextFileSync(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      if (missing(e)) return undefined;
      throw e;
    }
  },
  pathKind(path) {
    try {
      return statSync(path).isDirectory() ? 'directory' : 'file';
    } catch (e) {
      if (missing(e)) return undefined;
      throw e;
    }
  },
  runCommand: (command, timeoutMs) =>
    new Promise((resolve, reject) => {
      exec(command, { timeout: timeoutMs }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    }),
  requirePackage: (name) => require(name),
  importModule: (specifier) => import(specifier),
  unavailable: undefined,
};
