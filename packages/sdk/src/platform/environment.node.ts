// The environment on Node (and on Bun and Deno, which provide Node's built-ins).
import { setMaxListeners } from 'node:events';
import { arch, hostname, networkInterfaces, platform } from 'node:os';
import type { Environment } from './environment.js';

const versions = process.versions as NodeJS.ProcessVersions & { bun?: string; deno?: string };

export const environment: Environment = {
  variable: (name) => process.env[name],
  describe: () => ({
    os: platform(),
    arch: arch(),
    runtime: versions.bun ? 'bun' : versions.deno ? 'deno' : 'node',
    version: versions.bun ?? versions.deno ?? process.version,
  }),
  isThisMachine(host) {
    if (host === hostname().toLowerCase()) return true;
    return Object.values(networkInterfaces()).some((addrs) => addrs?.some((a) => a.address.toLowerCase() === host));
  },
  allowManyListeners: (signal) => setMaxListeners(0, signal),
  standardError: () => process.stderr,
};
