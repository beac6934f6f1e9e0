// Qwen3's chat format (ChatML with <think> reasoning and <tool_call> JSON), written to render
// exactly what the model's own chat template renders (tokenizer_config.json of Qwen/Qwen3-8B):
// reasoning is kept only on assistant turns after the last user query, tools are listed in the
// system turn, tool results are wrapped in <tool_response> inside a user turn.
import type { Tokenizer } from '@tinker-ts/sdk';
import type { Message, ToolCall } from './message.js';
import { Renderer, pythonJson, untilStop, type ParsedResponse, type RenderOptions, type Segment } from './renderer.js';

const TOOLS_PREAMBLE =
  '# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>';
const TOOLS_POSTAMBLE =
  '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>';

export interface Qwen3RendererOptions {
  /**
   * false: the model answers without reasoning; the generation prompt ends with an empty
   * <think></think> block (the template's enable_thinking=false). Default true.
   */
  thinking?: boolean;
}

export class Qwen3Renderer extends Renderer {
  readonly name: string;
  readonly thinking: boolean;

  constructor(tokenizer: Tokenizer, opts: Qwen3RendererOptions = {}) {
    super(tokenizer);
    this.thinking = opts.thinking ?? true;
    this.name = this.thinking ? 'qwen3' : 'qwen3_disable_thinking';
  }

  protected render(messages: readonly Message[], opts: RenderOptions): Segment[] {
    const out: Segment[] = [];
    const first = messages[0];
    const hasSystem = first?.role === 'system';
    if (opts.tools && opts.tools.length > 0) {
      out.push({ text: '<|im_start|>system\n', message: hasSystem ? 0 : -1, part: 'header' });
      if (hasSystem) out.push({ text: first.content + '\n\n', message: 0, part: 'completion' });
      const tools = opts.tools.map((t) => '\n' + pythonJson(t)).join('');
      out.push({ text: TOOLS_PREAMBLE + tools + TOOLS_POSTAMBLE, message: -1, part: 'header' });
      out.push({ text: '<|im_end|>', message: hasSystem ? 0 : -1, part: hasSystem ? 'completion' : 'header' });
      out.push({ text: '\n', message: -1, part: 'trailer' });
    } else if (hasSystem) {
      out.push(...turn(0, '<|im_start|>system\n', first.content + '<|im_end|>'));
    }

    const lastQuery = lastQueryIndex(messages);
    messages.forEach((m, i) => {
      if (m.role === 'user' || (m.role === 'system' && i > 0)) {
        out.push(...turn(i, `<|im_start|>${m.role}\n`, m.content + '<|im_end|>'));
      } else if (m.role === 'assistant') {
        out.push(...this.assistantTurn(messages, i, lastQuery));
      } else if (m.role === 'tool') {
        const opens = i === 0 || messages[i - 1]!.role !== 'tool';
        const closes = i === messages.length - 1 || messages[i + 1]!.role !== 'tool';
        if (opens) out.push({ text: '<|im_start|>user', message: i, part: 'header' });
        out.push({ text: '\n<tool_response>\n', message: i, part: 'header' });
        out.push({ text: m.content + '\n</tool_response>' + (closes ? '<|im_end|>' : ''), message: i, part: 'completion' });
        if (closes) out.push({ text: '\n', message: i, part: 'trailer' });
      }
    });
    return out;
  }

  private assistantTurn(messages: readonly Message[], i: number, lastQuery: number): Segment[] {
    const m = messages[i]!;
    let content = m.content;
    let reasoning = '';
    if (m.thinking !== undefined) {
      reasoning = m.thinking;
    } else if (content.includes('</think>')) {
      const parts = content.split('</think>');
      content = parts[parts.length - 1]!.replace(/^\n+/, '');
      reasoning = parts[0]!.replace(/\n+$/, '').split('<think>').pop()!.replace(/^\n+/, '');
    }
    const isLast = i === messages.length - 1;
    const showsThinking = i > lastQuery && (isLast || reasoning !== '');
    const stripped = reasoning.replace(/^\n+|\n+$/g, '');
    let header = '<|im_start|>assistant\n';
    let body = content;
    if (showsThinking) {
      const block = '<think>\n' + stripped + '\n</think>\n\n';
      // Without thinking, the empty block is part of the prompt the model continues from.
      const inPrompt = !this.thinking && stripped === '';
      if (inPrompt) header += block;
      body = (inPrompt ? '' : block) + content.replace(/^\n+/, '');
    }
    (m.toolCalls ?? []).forEach((call, k) => {
      if (k > 0 || content !== '') body += '\n';
      body += toolCallText(call);
    });
    return [
      { text: header, message: i, part: 'header' },
      { text: body + '<|im_end|>', message: i, part: 'completion' },
      { text: '\n', message: i, part: 'trailer' },
    ];
  }

  protected generationHeader(): string {
    return this.thinking ? '<|im_start|>assistant\n' : '<|im_start|>assistant\n<think>\n\n</think>\n\n';
  }

  stopSequences(): number[] {
    return [this.tokenId('<|im_end|>')];
  }

  parseResponse(tokens: readonly number[]): ParsedResponse {
    const { body, stopped } = untilStop(tokens, [this.tokenId('<|im_end|>')]);
    let text = this.tokenizer.decode(body);
    let thinking: string | undefined;
    if (text.includes('</think>')) {
      const at = text.indexOf('</think>');
      thinking = text.slice(0, at).replace(/^\s*<think>/, '').replace(/^\n+|\n+$/g, '');
      text = text.slice(at + '</think>'.length).replace(/^\n+/, '');
    }
    const { content, toolCalls, ok } = parseToolCalls(text);
    const message: Message = { role: 'assistant', content };
    if (thinking !== undefined && thinking !== '') message.thinking = thinking;
    if (toolCalls.length > 0) message.toolCalls = toolCalls;
    return { message, ok: stopped && ok };
  }
}

/** A message's header, completion and the newline after its end token. */
function turn(i: number, header: string, completion: string): Segment[] {
  return [
    { text: header, message: i, part: 'header' },
    { text: completion, message: i, part: 'completion' },
    { text: '\n', message: i, part: 'trailer' },
  ];
}

/** Index of the last user message that is a query, not a wrapped tool response. */
function lastQueryIndex(messages: readonly Message[]): number {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role === 'user' && !(m.content.startsWith('<tool_response>') && m.content.endsWith('</tool_response>'))) return i;
  }
  return messages.length - 1;
}

export function toolCallText(call: ToolCall): string {
  return `<tool_call>\n{"name": "${call.name}", "arguments": ${call.arguments}}\n</tool_call>`;
}

/** Splits <tool_call> JSON blocks out of a reply; ok is false when one does not parse. */
export function parseToolCalls(text: string): { content: string; toolCalls: ToolCall[]; ok: boolean } {
  const toolCalls: ToolCall[] = [];
  let ok = true;
  const content = text.replace(/\n?<tool_call>\n?([\s\S]*?)\n?<\/tool_call>/g, (_all, json: string) => {
    try {
      const parsed = JSON.parse(json) as { name?: unknown; arguments?: unknown };
      if (typeof parsed.name !== 'string') throw new Error('no name');
      toolCalls.push({ name: parsed.name, arguments: typeof parsed.arguments === 'string' ? parsed.arguments : pythonJson(parsed.arguments ?? {}) });
    } catch {
      ok = false;
    }
    return '';
  });
  return { content, toolCalls, ok };
}
