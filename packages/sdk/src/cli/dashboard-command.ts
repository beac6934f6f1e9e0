/**
 * `tinker-ts dashboard [--base-url URL] [--open]`: the URL of a server's dashboard (the web app
 * it serves at `/`), printed, and opened in a browser with --open. The server is --base-url,
 * else TINKER_BASE_URL, else the local server of TINKER_HOME; it is probed first so a wrong
 * address is one clear line.
 */
import { spawn } from 'node:child_process';
import { answersHealthz } from '@tinker-ts/protocol/healthz';
import { UsageError, expectPositionals, flagOption, stringOption, type OptionSpecs, type ParsedArgs } from '@tinker-ts/protocol/cli-args';
import { CommandError } from './client-commands.js';
import { findLocalServer } from './local-server.js';

export const DASHBOARD_OPTIONS: OptionSpecs = {
  'base-url': {},
  open: { flag: true },
};

export const DASHBOARD_USAGE = 'tinker-ts dashboard [--base-url URL] [--open]';

/** The dashboard's address for a server base URL (`http://host:port/` or with a path prefix). */
export function dashboardUrl(baseURL: string): string {
  let u: URL;
  try {
    u = new URL(baseURL);
  } catch {
    throw new UsageError(`--base-url must be an http(s) URL, got ${JSON.stringify(baseURL)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--base-url must be an http(s) URL, got ${JSON.stringify(baseURL)}`);
  u.pathname = u.pathname.replace(/\/+$/, '') + '/';
  u.search = '';
  u.hash = '';
  return u.toString();
}

function openInBrowser(url: string): void {
  const [cmd, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
  child.on('error', (err) => process.stderr.write(`could not open a browser (${cmd}: ${err.message}); open ${url} yourself\n`));
  child.unref();
}

export async function dashboardCommand(args: ParsedArgs): Promise<number> {
  expectPositionals(args, [], DASHBOARD_USAGE);
  let baseURL = stringOption(args, 'base-url') ?? process.env['TINKER_BASE_URL'];
  if (!baseURL) {
    const local = await findLocalServer();
    if (typeof local === 'string') {
      throw new CommandError(`no Tinker server: pass --base-url or set TINKER_BASE_URL, or start a local one with "tinker-ts serve" (${local})`);
    }
    baseURL = local.baseURL;
  }
  const url = dashboardUrl(baseURL);
  const base = url.replace(/\/$/, '');
  if (!(await answersHealthz(base, 5000))) {
    throw new CommandError(`cannot reach the Tinker server at ${base} (no answer from ${base}/api/v1/healthz); is it running?`);
  }
  process.stdout.write(`${url}\n`);
  if (flagOption(args, 'open')) openInBrowser(url);
  return 0;
}
