// What the SDK asks of the runtime it runs in: environment variables, its own name for request
// headers, this machine's names, where progress lines go. Two implementations, picked by the
// package's `#environment` import: environment.node.ts (Node, Bun, Deno) and
// environment.browser.ts (bundles built for browsers and edge workers).

/** Who is calling, for the X-Stainless-* headers the official SDKs send. */
export interface RuntimeDescription {
  os: string;
  arch: string;
  /** "node", "bun", "deno" or "browser". */
  runtime: string;
  version: string;
}

/** A text sink such as standard error: a terminal (isTTY) redraws in place, anything else gets lines. */
export interface LineSink {
  isTTY?: boolean | undefined;
  write(text: string): unknown;
}

export interface Environment {
  /** An environment variable (TINKER_BASE_URL, TINKER_API_KEY, …); never set in a browser. */
  variable(name: string): string | undefined;
  describe(): RuntimeDescription;
  /** Whether `host` (a lower-case name or address) is one of this machine's own. */
  isThisMachine(host: string): boolean;
  /** Lifts the listener-count warning on a signal that every request of a client listens to. */
  allowManyListeners(signal: AbortSignal): void;
  /** Standard error, or the console where there is none. */
  standardError(): LineSink;
}
