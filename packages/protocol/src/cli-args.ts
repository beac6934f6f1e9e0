/**
 * Command-line options of the tinker-ts programs (the SDK's `tinker-ts`, the server's
 * `tinker-ts-server`), read with Node's `util.parseArgs`: `--name value`, `--name=value`, short
 * aliases, repeatable options and flags. Anything not declared, a value missing or given to a
 * flag, or an option given twice is a UsageError (exit code 2).
 */
import { readFileSync } from 'node:fs';
import { parseArgs as parseNodeArgs, type ParseArgsConfig } from 'node:util';
import { TinkerError } from './errors.js';

/** The `version` of the package.json at `url` (a CLI's own), or 'unknown'. */
export function packageVersionAt(url: URL): string {
  try {
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * Runs a CLI's `main` as the program: its exit code, and no waiting on stray timers afterwards
 * (the engine process and sockets are closed by then).
 */
export function runProgram(main: (argv: string[]) => Promise<number>, argv: string[]): void {
  main(argv).then(
    (code) => {
      process.exitCode = code;
      setImmediate(() => process.exit(code));
    },
    (err) => {
      process.stderr.write(`error: ${String(err)}\n`);
      process.exit(1);
    },
  );
}

/** Bad command-line arguments: printed as one line, exit code 2. */
export class UsageError extends TinkerError {
  constructor(message: string) {
    super(message, { category: 'user' });
  }
}

export interface OptionSpec {
  /** Takes no value. */
  flag?: boolean;
  /** May be given several times (values collected in order). */
  repeat?: boolean;
  /** Short alias without the dash, e.g. 'o'. */
  short?: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

export interface ParsedArgs {
  positionals: string[];
  /** Flags are `true`; repeatable options are string[]; others a string. */
  options: Record<string, string | string[] | true>;
}

export function parseArgs(argv: string[], specs: OptionSpecs): ParsedArgs {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = { type: spec.flag ? 'boolean' : 'string', ...(spec.short ? { short: spec.short } : {}) };
  }
  // Not strict: the tokens are checked here, so that each mistake gets the CLI's own one-line message.
  const { tokens } = parseNodeArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const parsed: ParsedArgs = { positionals: [], options: {} };
  for (const token of tokens) {
    if (token.kind === 'positional') {
      parsed.positionals.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue; // `--`: what follows is positional
    const spec = specs[token.name];
    if (!spec) throw new UsageError(`unknown option ${token.rawName}`);
    if (spec.flag) {
      if (token.value !== undefined) throw new UsageError(`option --${token.name} takes no value`);
      parsed.options[token.name] = true;
      continue;
    }
    if (token.value === undefined) throw new UsageError(`option --${token.name} needs a value`);
    const prev = parsed.options[token.name];
    if (spec.repeat) parsed.options[token.name] = [...(Array.isArray(prev) ? prev : []), token.value];
    else if (prev !== undefined) throw new UsageError(`option --${token.name} given twice`);
    else parsed.options[token.name] = token.value;
  }
  return parsed;
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.options[name];
  return typeof v === 'string' ? v : undefined;
}

export function listOption(args: ParsedArgs, name: string): string[] {
  const v = args.options[name];
  return Array.isArray(v) ? v : [];
}

export function flagOption(args: ParsedArgs, name: string): boolean {
  return args.options[name] === true;
}

/** An integer option within [min, max]. */
export function intOption(args: ParsedArgs, name: string, dflt: number, min: number, max: number): number {
  const raw = stringOption(args, name);
  if (raw === undefined) return dflt;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

/** Exactly `names.length` positionals, named in the error. */
export function expectPositionals(args: ParsedArgs, names: string[], usage: string): string[] {
  if (args.positionals.length < names.length) {
    throw new UsageError(`missing ${names.slice(args.positionals.length).map((n) => `<${n}>`).join(' ')} (usage: ${usage})`);
  }
  if (args.positionals.length > names.length) {
    throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[names.length])} (usage: ${usage})`);
  }
  return args.positionals;
}
