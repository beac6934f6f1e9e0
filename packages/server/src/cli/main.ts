#!/usr/bin/env node
/**
 * tinker-ts-server: runs the local Tinker server (`tinker-ts-server [serve] [options]`, the same
 * command as `tinker-ts serve` of @tinker-ts/sdk, which also has the client commands). The
 * embedded launcher starts this file.
 *
 * Exit codes: 0 success, 1 the server failed, 2 bad arguments.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TINKER_WIRE_VERSION } from '@tinker-ts/protocol';
import { UsageError, packageVersionAt, parseArgs, runProgram } from '@tinker-ts/protocol/cli-args';
import { SERVE_OPTIONS, SERVE_USAGE, serveCommand } from './serve.js';

export function packageVersion(): string {
  return packageVersionAt(new URL('../../package.json', import.meta.url));
}

export async function main(argv: string[]): Promise<number> {
  const args = argv[0] === 'serve' ? argv.slice(1) : argv;
  try {
    if (args[0] === 'help' || args[0] === '--help' || args[0] === '-h') {
      process.stdout.write(`usage:\n  ${SERVE_USAGE}\n  (also as tinker-ts-server [options])\n`);
      return 0;
    }
    if (args[0] === 'version' || args[0] === '--version') {
      process.stdout.write(`tinker-ts-server ${packageVersion()} (Tinker wire protocol ${TINKER_WIRE_VERSION})\n`);
      return 0;
    }
    return await serveCommand(parseArgs(args, SERVE_OPTIONS));
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}

/** Runs the server as a program (bin/tinker-ts-server.js). */
export function runServerCli(argv: string[]): void {
  runProgram(main, argv);
}

// Run when executed directly (not when imported by tests or by bin/tinker-ts-server.js).
if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runServerCli(process.argv.slice(2));
}
