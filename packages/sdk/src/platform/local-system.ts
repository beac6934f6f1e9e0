// What the SDK may reach on the local machine: files (credentials, tokenizer.json), a credential
// command, optional packages (tokenizers, the embedded server). Two implementations, picked by the
// package's `#local-system` import: local-system.node.ts and local-system.browser.ts (where none
// of it exists, and each use says so).

export interface LocalSystem {
  /** The user's home directory; undefined where there is none. */
  homeDir(): string | undefined;
  joinPath(...parts: string[]): string;
  /** A text file, or undefined when it does not exist. */
  readTextFile(path: string): Promise<string | undefined>;
  /** The same, synchronously (tokenizers load synchronously). */
  readTextFileSync(path: string): string | undefined;
  /** "file", "directory", or undefined when nothing is there. */
  pathKind(path: string): 'file' | 'directory' | undefined;
  /** Runs a shell command and returns what it printed on stdout. */
  runCommand(command: string, timeoutMs: number): Promise<string>;
  /** An installed package, synchronously; throws an error with code MODULE_NOT_FOUND when it is not installed. */
  requirePackage(name: string): unknown;
  /** An installed ES module, by specifier. */
  importModule(specifier: string): Promise<unknown>;
  /** Why this environment cannot do these things (browsers); undefined where it can. */
  readonly unavailable: string | undefined;
}
