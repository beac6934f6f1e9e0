// gpt-oss's harmony format, written to render exactly what the model's chat template renders
// (chat_template.jinja of openai/gpt-oss-20b): every message is `<|start|>role<|message|>…<|end|>`,
// a system message states the knowledge cutoff, date, reasoning effort and valid channels, the
// first system/developer message becomes the developer "# Instructions" (with the tools as a
// TypeScript namespace), assistant text goes to the `final` channel, reasoning to `analysis`, tool
// calls to `commentary` addressed `to=functions.NAME`. The model's turn ends with `<|return|>`
// (an answer) or `<|call|>` (a tool call); reasoning of earlier turns is dropped, as the template does.
import { ValidationError, type Tokenizer } from '@tinker-ts/sdk';
import type { Message, ToolCall, ToolSpec } from './message.js';
import { Renderer, pythonJson, untilStop, type ParsedResponse, type RenderOptions, type Segment } from './renderer.js';

export type ReasoningEffort = 'low' | 'medium' | 'high';

export interface GptOssRendererOptions {
  /** Written in the system message; undefined leaves the system message out (gpt_oss_no_sysprompt). Default "medium". */
  reasoningEffort?: ReasoningEffort | undefined;
  /** "Current date: …" of the system message, YYYY-MM-DD. Default: today (UTC), as the template's strftime_now. */
  currentDate?: string;
  /** First line of the system message. Default the template's. */
  modelIdentity?: string;
}

const DEFAULT_IDENTITY = 'You are ChatGPT, a large language model trained by OpenAI.';
const CHANNEL_TAGS = ['<|channel|>analysis<|message|>', '<|channel|>final<|message|>'];

export class GptOssRenderer extends Renderer {
  readonly name: string;
  readonly reasoningEffort: ReasoningEffort | undefined;
  readonly currentDate: string;
  readonly modelIdentity: string;

  constructor(tokenizer: Tokenizer, opts: GptOssRendererOptions = {}) {
    super(tokenizer);
    this.reasoningEffort = 'reasoningEffort' in opts ? opts.reasoningEffort : 'medium';
    this.currentDate = opts.currentDate ?? new Date().toISOString().slice(0, 10);
    this.modelIdentity = opts.modelIdentity ?? DEFAULT_IDENTITY;
    this.name = this.reasoningEffort === undefined ? 'gpt_oss_no_sysprompt' : `gpt_oss_${this.reasoningEffort}_reasoning`;
  }

  protected render(messages: readonly Message[], opts: RenderOptions, forGeneration: boolean): Segment[] {
    const out: Segment[] = [];
    const tools = opts.tools ?? [];
    if (this.reasoningEffort !== undefined) {
      out.push({ text: `<|start|>system<|message|>${this.systemText(tools.length > 0)}<|end|>`, message: -1, part: 'header' });
    }
    const first = messages[0];
    const hasDeveloper = first !== undefined && (first.role === 'system' || first.role === 'developer');
    const instructions = hasDeveloper ? first.content : '';
    if (instructions !== '' || tools.length > 0) {
      const owner = instructions !== '' ? 0 : -1;
      out.push({ text: '<|start|>developer<|message|>' + (instructions !== '' ? '# Instructions\n\n' : ''), message: owner, part: 'header' });
      // The blank line before the tools stays with the instructions: the tokenizer merges it with their last punctuation.
      if (instructions !== '') out.push({ text: instructions + (tools.length > 0 ? '\n\n' : '<|end|>'), message: 0, part: 'completion' });
      if (tools.length > 0) {
        out.push({ text: (instructions !== '' ? '' : '\n\n') + '# Tools\n\n' + toolNamespace('functions', tools), message: -1, part: 'header' });
        out.push({ text: '<|end|>', message: owner, part: owner === 0 ? 'completion' : 'header' });
      }
    }

    // Tool results are addressed from the call they answer: by id, else the latest call.
    const callNames = new Map<string, string>();
    let lastCall: string | undefined;
    const start = hasDeveloper ? 1 : 0;
    for (let i = start; i < messages.length; i++) {
      const m = messages[i]!;
      if (m.role === 'user') {
        out.push({ text: '<|start|>user<|message|>', message: i, part: 'header' }, { text: m.content + '<|end|>', message: i, part: 'completion' });
      } else if (m.role === 'assistant') {
        checkNoChannelTags(m, i);
        const calls = m.toolCalls ?? [];
        out.push({ text: '<|start|>assistant', message: i, part: 'header' });
        if (calls.length > 0) {
          out.push({ text: this.toolCallText(messages, i, start), message: i, part: 'completion' });
          for (const c of calls) if (c.id !== undefined) callNames.set(c.id, c.name);
          lastCall = calls[calls.length - 1]!.name;
        } else if (i === messages.length - 1 && !forGeneration) {
          // Only the final answer of a training example keeps its reasoning and ends in <|return|>.
          const analysis = m.thinking !== undefined ? `<|channel|>analysis<|message|>${m.thinking}<|end|><|start|>assistant` : '';
          out.push({ text: `${analysis}<|channel|>final<|message|>${m.content}<|return|>`, message: i, part: 'completion' });
        } else {
          out.push({ text: `<|channel|>final<|message|>${m.content}<|end|>`, message: i, part: 'completion' });
          lastCall = undefined;
        }
      } else if (m.role === 'tool') {
        const name = (m.toolCallId !== undefined ? callNames.get(m.toolCallId) : undefined) ?? lastCall;
        if (name === undefined) throw new ValidationError(`message ${i} is a tool result, but no assistant message before it calls a tool`, { field: 'messages' });
        out.push(
          { text: `<|start|>functions.${name} to=assistant<|channel|>commentary<|message|>`, message: i, part: 'header' },
          { text: JSON.stringify(m.content) + '<|end|>', message: i, part: 'completion' },
        );
      }
      // A system or developer message after the first is not part of the format: the template drops it too.
    }
    return out;
  }

  /** An assistant message with tool calls: its text as analysis (unless a later answer supersedes it), then one call per harmony message. */
  private toolCallText(messages: readonly Message[], i: number, start: number): string {
    const m = messages[i]!;
    if (m.content !== '' && m.thinking !== undefined && m.thinking !== '') {
      throw new ValidationError(`message ${i} has both content and thinking beside its tool calls; harmony has one analysis message for them`, { field: 'messages' });
    }
    const laterAnswer = messages.slice(Math.max(i + 1, start)).some((n) => n.role === 'assistant' && (n.toolCalls ?? []).length === 0);
    const analysis = m.content !== '' ? m.content : (m.thinking ?? '');
    let text = analysis !== '' && !laterAnswer ? `<|channel|>analysis<|message|>${analysis}<|end|><|start|>assistant` : '';
    m.toolCalls!.forEach((call, k) => {
      if (k > 0) text += '<|start|>assistant';
      text += ` to=functions.${call.name}<|channel|>commentary json<|message|>${argumentsJson(call, i)}<|call|>`;
    });
    return text;
  }

  private systemText(hasTools: boolean): string {
    return (
      `${this.modelIdentity}\nKnowledge cutoff: 2024-06\nCurrent date: ${this.currentDate}\n\nReasoning: ${this.reasoningEffort}\n\n` +
      '# Valid channels: analysis, commentary, final. Channel must be included for every message.' +
      (hasTools ? "\nCalls to these tools must go to the commentary channel: 'functions'." : '')
    );
  }

  protected generationHeader(): string {
    return '<|start|>assistant';
  }

  stopSequences(): number[] {
    return [this.tokenId('<|return|>'), this.tokenId('<|call|>')];
  }

  /**
   * The sampled harmony messages after `<|start|>assistant`: analysis → thinking, final (and
   * commentary without a recipient) → content, `to=functions.NAME` → a tool call.
   */
  parseResponse(tokens: readonly number[]): ParsedResponse {
    const { body, stopped } = untilStop(tokens, this.stopSequences());
    const text = this.tokenizer.decode(body);
    const thinking: string[] = [];
    const content: string[] = [];
    const toolCalls: ToolCall[] = [];
    let ok = stopped;
    const parts = text.split('<|start|>');
    parts.forEach((part, k) => {
      // Every message but the last ends in <|end|>; the last ended at the stop token.
      const isLast = k === parts.length - 1;
      let rest = part;
      if (k > 0) {
        if (!rest.startsWith('assistant')) ok = false;
        rest = rest.slice('assistant'.length);
      }
      if (!isLast) {
        if (!rest.endsWith('<|end|>')) ok = false;
        rest = rest.replace(/<\|end\|>$/, '');
      }
      const at = rest.indexOf('<|message|>');
      if (at < 0) {
        ok = false;
        return;
      }
      const header = rest.slice(0, at);
      const value = rest.slice(at + '<|message|>'.length);
      const channel = /<\|channel\|>(\w+)/.exec(header)?.[1];
      const recipient = /to=functions\.([^\s<]+)/.exec(header)?.[1];
      if (recipient !== undefined) toolCalls.push({ name: recipient, arguments: value });
      else if (channel === 'analysis') thinking.push(value);
      else if (channel === 'final' || channel === 'commentary') content.push(value);
      else ok = false;
    });
    for (const call of toolCalls) {
      try {
        JSON.parse(call.arguments);
      } catch {
        ok = false;
      }
    }
    const message: Message = { role: 'assistant', content: content.join('\n') };
    if (thinking.length > 0) message.thinking = thinking.join('\n');
    if (toolCalls.length > 0) message.toolCalls = toolCalls;
    return { message, ok };
  }
}

function checkNoChannelTags(m: Message, i: number): void {
  for (const field of ['content', 'thinking'] as const) {
    const value = m[field];
    if (value !== undefined && CHANNEL_TAGS.some((t) => value.includes(t))) {
      throw new ValidationError(`message ${i} has <|channel|> tags in its ${field}: pass reasoning in thinking and the answer in content`, { field: 'messages' });
    }
  }
}

/** A call's arguments as the template's `arguments|tojson` writes the object. */
function argumentsJson(call: ToolCall, i: number): string {
  try {
    return pythonJson(JSON.parse(call.arguments));
  } catch {
    throw new ValidationError(`the arguments of tool call ${JSON.stringify(call.name)} in message ${i} are not JSON: ${JSON.stringify(call.arguments)}`, { field: 'messages' });
  }
}

/** The tools as the template's TypeScript namespace. */
function toolNamespace(namespace: string, tools: readonly ToolSpec[]): string {
  let text = `## ${namespace}\n\nnamespace ${namespace} {\n\n`;
  for (const { function: fn } of tools) {
    text += `// ${fn.description ?? ''}\ntype ${fn.name} = `;
    const params = fn.parameters as JsonSchema | undefined;
    const properties = params?.properties;
    if (properties && Object.keys(properties).length > 0) {
      const required = params!.required ?? [];
      text += '(_: {\n';
      for (const [name, spec] of Object.entries(properties)) {
        if (spec.description) text += `// ${spec.description}\n`;
        text += name + (required.includes(name) ? '' : '?') + ': ' + typescriptType(spec);
        if (spec.default !== undefined) text += ', // default: ' + (spec.enum ? String(spec.default) : pythonJson(spec.default));
        text += ',\n';
      }
      text += '}) => any;\n\n';
    } else {
      text += '() => any;\n\n';
    }
  }
  return text + `} // namespace ${namespace}`;
}

interface JsonSchema {
  type?: string | string[];
  description?: string;
  enum?: unknown[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  nullable?: boolean;
  default?: unknown;
}

const PRIMITIVE: Record<string, string> = { string: 'string', number: 'number', integer: 'number', boolean: 'boolean' };

/** A parameter's JSON schema as a TypeScript type, as the template's render_typescript_type (flat schemas). */
function typescriptType(spec: JsonSchema): string {
  const nullable = spec.nullable ? ' | null' : '';
  if (Array.isArray(spec.type)) return spec.type.join(' | ');
  if (spec.type === 'array') {
    const item = spec.items?.type;
    return (typeof item === 'string' && PRIMITIVE[item] ? `${PRIMITIVE[item]}[]` : 'any[]') + nullable;
  }
  if (spec.type === 'string') return spec.enum ? `"${spec.enum.join('" | "')}"` : 'string' + nullable;
  if (typeof spec.type === 'string' && PRIMITIVE[spec.type]) return PRIMITIVE[spec.type]!;
  // Nested object properties are not spelled out: the template writes them with stray whitespace.
  if (spec.type === 'object') return 'object';
  return 'any';
}
