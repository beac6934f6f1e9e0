#!/usr/bin/env node
/**
 * tinker-ts: inspect and manage training runs, checkpoints and sessions on any Tinker-compatible
 * server, and (with @tinker-ts/server installed) run a local one with `tinker-ts serve`.
 *
 * Exit codes: 0 success, 1 the command failed (server error, not found, unreachable), 2 bad
 * arguments.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TINKER_WIRE_VERSION } from '@tinker-ts/protocol';
import { UsageError, packageVersionAt, parseArgs, runProgram, type OptionSpecs, type ParsedArgs } from '@tinker-ts/protocol/cli-args';
import { CLIENT_GROUPS, CLIENT_OPTIONS, CommandError, clientCommand, clientUsage } from './client-commands.js';
import { DASHBOARD_OPTIONS, DASHBOARD_USAGE, dashboardCommand } from './dashboard-command.js';
import { errorMessage } from './output.js';

/** The server package's `serve` command: loaded only for `tinker-ts serve` (an optional peer of the SDK). */
const SERVE_MODULE = '@tinker-ts/server/cli/serve';
const SERVE_USAGE_FALLBACK = 'tinker-ts serve [options]   (needs @tinker-ts/server; see tinker-ts serve --help once installed)';

interface ServeModule {
  SERVE_OPTIONS: OptionSpecs;
  SERVE_USAGE: string;
  serveCommand(args: ParsedArgs): Promise<number>;
}

async function loadServe(): Promise<ServeModule | string> {
  const specifier: string = SERVE_MODULE; // a variable: the SDK builds and runs without the server package
  try {
    return (await import(specifier)) as ServeModule;
  } catch (e) {
    return `tinker-ts serve runs the local server of @tinker-ts/server: npm install @tinker-ts/server (loading ${specifier} failed: ${e instanceof Error ? e.message : String(e)})`;
  }
}

export function packageVersion(): string {
  return packageVersionAt(new URL('../../package.json', import.meta.url));
}

export async function usage(): Promise<string> {
  const serve = await loadServe();
  return [
    'usage:',
    `  ${typeof serve === 'string' ? SERVE_USAGE_FALLBACK : serve.SERVE_USAGE}`,
    ...clientUsage().map((u) => `  ${u}`),
    `  ${DASHBOARD_USAGE}`,
    '  tinker-ts version',
    '',
    'client commands take --base-url URL (or TINKER_BASE_URL; default: the local server of TINKER_HOME),',
    '--api-key KEY (or TINKER_API_KEY) and -f table|json (also before the command; --json is -f json).',
  ].join('\n');
}


/**
 * Moves a leading `-f FORMAT` / `--format FORMAT` (the Python CLI's global option, written
 * before the command) after the command, where the client commands read it.
 */
export function hoistGlobalFormat(argv: string[]): string[] {
  const leading: string[] = [];
  let i = 0;
  for (;;) {
    const a = argv[i];
    if ((a === '-f' || a === '--format') && i + 1 < argv.length) {
      leading.push('--format', argv[i + 1]!);
      i += 2;
    } else if (a !== undefined && (a.startsWith('--format=') || (a.startsWith('-f') && a.length > 2 && !a.startsWith('--')))) {
      leading.push('--format', a.startsWith('--format=') ? a.slice('--format='.length) : a.slice(2));
      i += 1;
    } else break;
  }
  if (leading.length === 0) return argv;
  const [command, ...rest] = argv.slice(i);
  if (command === undefined || !CLIENT_GROUPS.includes(command)) {
    throw new UsageError(`-f/--format applies to the client commands (${CLIENT_GROUPS.join(', ')}), not to ${command === undefined ? 'nothing' : JSON.stringify(command)}`);
  }
  return [command, ...rest, ...leading];
}

export async function main(argv: string[]): Promise<number> {
  let command: string | undefined;
  let rest: string[];
  try {
    [command, ...rest] = hoistGlobalFormat(argv);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    return 2;
  }
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write((await usage()) + '\n');
      return command === undefined ? 2 : 0;
    }
    if (command === 'version' || command === '--version') {
      if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])} (usage: tinker-ts version)`);
      process.stdout.write(`tinker-ts ${packageVersion()} (Tinker wire protocol ${TINKER_WIRE_VERSION})\n`);
      return 0;
    }
    if (command === 'serve') {
      const serve = await loadServe();
      if (typeof serve === 'string') throw new CommandError(serve);
      return await serve.serveCommand(parseArgs(rest, serve.SERVE_OPTIONS));
    }
    if (command === 'dashboard') return await dashboardCommand(parseArgs(rest, DASHBOARD_OPTIONS));
    if (CLIENT_GROUPS.includes(command)) return await clientCommand(command, parseArgs(rest, CLIENT_OPTIONS));
    throw new UsageError(`unknown command ${JSON.stringify(command)} (expected serve, ${CLIENT_GROUPS.join(', ')}, dashboard or version; see tinker-ts help)`);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`error: ${errorMessage(err)}\n`);
    if (!(err instanceof CommandError) && process.env['TINKER_DEBUG']) process.stderr.write(`${(err as Error).stack}\n`);
    return 1;
  }
}

/** Runs the CLI as a program (bin/tinker-ts.js). */
export function runCli(argv: string[]): void {
  runProgram(main, argv);
}

// Run when executed directly (not when imported by tests or by bin/tinker-ts.js).
if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runCli(process.argv.slice(2));
}
