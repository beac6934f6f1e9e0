// DeepSeek V3.1's hybrid chat format, as its chat template renders it (tokenizer_config.json of
// deepseek-ai/DeepSeek-V3.1): like V3, but the assistant header says whether the model reasons,
// `<｜Assistant｜><think>` (thinking) or `<｜Assistant｜></think>` (not); earlier turns always show
// `</think>` and keep no reasoning; tool calls are `name<｜tool▁sep｜>arguments` without fences, and
// the reply after tool results follows <｜tool▁output▁end｜> directly.
import type { Tokenizer } from '@tinker-ts/sdk';
import type { Message, ToolCall } from './message.js';
import { Renderer, untilStop, type ParsedResponse, type Segment } from './renderer.js';
import { BOS, EOS, USER, ASSISTANT, CALLS_BEGIN, CALLS_END, CALL_BEGIN, CALL_END, SEP, OUTPUT_BEGIN, OUTPUT_END } from './deepseek-tokens.js';


export interface DeepSeekV31RendererOptions {
  /** true: the model reasons first (the template's thinking=true); default false, as the template. */
  thinking?: boolean;
}

export class DeepSeekV31Renderer extends Renderer {
  readonly name: string;
  readonly thinking: boolean;

  constructor(tokenizer: Tokenizer, opts: DeepSeekV31RendererOptions = {}) {
    super(tokenizer);
    this.thinking = opts.thinking ?? false;
    this.name = this.thinking ? 'deepseekv3_1_thinking' : 'deepseekv3_1';
  }

  protected render(messages: readonly Message[], _opts: unknown, forGeneration: boolean): Segment[] {
    const out: Segment[] = [{ text: BOS, message: -1, part: 'header' }];
    let firstSystem = true;
    messages.forEach((m, i) => {
      if (m.role !== 'system') return;
      out.push({ text: (firstSystem ? '' : '\n\n') + m.content, message: i, part: 'completion' });
      firstSystem = false;
    });
    messages.forEach((m, i) => {
      const previous = messages.slice(0, i).filter((p) => p.role !== 'system').pop();
      // The assistant header follows a user turn (or only system prompts); after tool results there is none.
      const headed = previous === undefined || previous.role === 'user';
      if (m.role === 'user') {
        out.push({ text: USER, message: i, part: 'header' }, { text: m.content, message: i, part: 'completion' });
      } else if (m.role === 'assistant') {
        const calls = m.toolCalls ?? [];
        // The last turn of a training example in thinking mode keeps its reasoning, as the model writes it.
        const reasons = this.thinking && headed && i === messages.length - 1 && !forGeneration && calls.length === 0;
        if (reasons) {
          out.push({ text: ASSISTANT + '<think>', message: i, part: 'header' });
          out.push({ text: (m.thinking ?? '') + '</think>' + m.content + EOS, message: i, part: 'completion' });
        } else {
          if (headed) out.push({ text: ASSISTANT + '</think>', message: i, part: 'header' });
          out.push({ text: visibleContent(m.content) + toolCallsText(calls) + EOS, message: i, part: 'completion' });
        }
      } else if (m.role === 'tool') {
        out.push({ text: OUTPUT_BEGIN, message: i, part: 'header' }, { text: m.content + OUTPUT_END, message: i, part: 'completion' });
      }
    });
    return out;
  }

  /** After tool results the model goes on right after <｜tool▁output▁end｜>. */
  protected generationHeader(messages: readonly Message[]): string {
    if (messages[messages.length - 1]?.role === 'tool') return '';
    return ASSISTANT + (this.thinking ? '<think>' : '</think>');
  }

  stopSequences(): number[] {
    return [this.tokenId(EOS)];
  }

  parseResponse(tokens: readonly number[]): ParsedResponse {
    const { body, stopped } = untilStop(tokens, this.stopSequences());
    let text = this.tokenizer.decode(body);
    let thinking: string | undefined;
    const end = text.indexOf('</think>');
    if (end >= 0) {
      thinking = text.slice(0, end).replace(/^<think>/, '');
      text = text.slice(end + '</think>'.length);
    }
    let ok = stopped;
    const message: Message = { role: 'assistant', content: text };
    if (thinking !== undefined && thinking !== '') message.thinking = thinking;
    const at = text.indexOf(CALLS_BEGIN);
    if (at >= 0) {
      message.content = text.slice(0, at);
      if (!text.endsWith(CALLS_END)) ok = false;
      const toolCalls: ToolCall[] = [];
      for (const block of text.slice(at + CALLS_BEGIN.length, text.length - (text.endsWith(CALLS_END) ? CALLS_END.length : 0)).split(CALL_BEGIN).slice(1)) {
        const sep = block.indexOf(SEP);
        if (sep < 0 || !block.endsWith(CALL_END)) {
          ok = false;
          continue;
        }
        const args = block.slice(sep + SEP.length, block.length - CALL_END.length);
        try {
          JSON.parse(args);
        } catch {
          ok = false;
        }
        toolCalls.push({ name: block.slice(0, sep), arguments: args });
      }
      if (toolCalls.length === 0) ok = false;
      else message.toolCalls = toolCalls;
    }
    return { message, ok };
  }
}

/** What the template shows of an earlier turn: the text after a `</think>` if it has one. */
function visibleContent(content: string): string {
  const at = content.indexOf('</think>');
  return at < 0 ? content : content.slice(at + '</think>'.length);
}

function toolCallsText(calls: readonly ToolCall[]): string {
  if (calls.length === 0) return '';
  return CALLS_BEGIN + calls.map((c) => `${CALL_BEGIN}${c.name}${SEP}${c.arguments}${CALL_END}`).join('') + CALLS_END;
}
