// In a browser there is no local machine to reach: no files, no commands, no packages loaded by
// name. Reads find nothing; everything else fails with the reason.
import type { LocalSystem } from './local-system.js';

const REASON = 'a browser has no file system, commands or packages loaded by name';

function unavailable(what: string): never {
  throw new Error(`${what} is not possible here: ${REASON}`);
}

export const localSystem: LocalSystem = {
  homeDir: () => undefined,
  joinPath: (...parts) => parts.join('/').replace(/\/+/g, '/'),
  readTextFile: async () => undefined,
  readTextFileSync: () => undefined,
  pathKind: () => undefined,
  runCommand: async (command) => unavailable(`running ${JSON.stringify(command)}`),
  requirePackage: (name) => {
    throw Object.assign(new Error(`loading the package ${name} is not possible here: ${REASON}`), { code: 'MODULE_NOT_FOUND' });
  },
  importModule: async (specifier) => unavailable(`loading ${specifier}`),
  unavailable: REASON,
};
