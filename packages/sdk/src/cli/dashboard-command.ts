/**
 * `tinker-ts dashboard [--base-url URL] [--open]`: the URL of a server's dashboard (the web app
 * it serves at `/`), printed, and opened in a browser with --open. The server is --base-url,
 * else TINKER_BASE_URL, else the local server of TINKER_HOME; it is probed first so a wrong
 * address is one clear line.
 */
import { spawn } from 'node:child_process';
import { UsageError, expectPositionals, flagOption, type OptionSpecs, type ParsedArgs } from '@tinker-ts/protocol/cli-args';
import { locateServer, requireReachable } from './client-commands.js';

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
  const { baseURL } = await locateServer(args);
  const url = dashboardUrl(baseURL);
  await requireReachable(url.replace(/\/$/, ''));
  process.stdout.write(`${url}\n`);
  if (flagOption(args, 'open')) openInBrowser(url);
  return 0;
}
