// DeepSeek V3's chat format, as its chat template renders it (tokenizer_config.json of
// deepseek-ai/DeepSeek-V3): BOS, the system prompts joined by blank lines, then `<｜User｜>text`
// and `<｜Assistant｜>text<｜end▁of▁sentence｜>` with no separators; tool calls as fenced JSON between
// <｜tool▁call▁begin｜>/<｜tool▁call▁end｜>, tool results between <｜tool▁output▁begin｜>/<｜tool▁output▁end｜>,
// and the reply after tool results follows <｜tool▁outputs▁end｜> without an assistant header.
// The template has no reasoning: `thinking` is not rendered.
//
// Where the template is inconsistent, the renderer writes the well-formed version of the format:
// it closes a single tool call with <｜tool▁calls▁end｜><｜end▁of▁sentence｜> (the template only does
// from the second call on), keeps an assistant's text before its tool calls (the template drops the
// calls when there is text), opens every group of tool results with <｜tool▁outputs▁begin｜> and
// closes it with <｜tool▁outputs▁end｜> (the template does so for the first group only).
import type { Message, ToolCall } from './message.js';
import { Renderer, untilStop, type ParsedResponse, type Segment } from './renderer.js';
import { BOS, EOS, USER, ASSISTANT, CALLS_BEGIN, CALLS_END, CALL_BEGIN, CALL_END, SEP, OUTPUTS_BEGIN, OUTPUTS_END, OUTPUT_BEGIN, OUTPUT_END } from './deepseek-tokens.js';


export class DeepSeekV3Renderer extends Renderer {
  readonly name = 'deepseekv3';

  protected render(messages: readonly Message[]): Segment[] {
    const out: Segment[] = [{ text: BOS, message: -1, part: 'header' }];
    // Every system message, wherever it is, goes to the top.
    let firstSystem = true;
    messages.forEach((m, i) => {
      if (m.role !== 'system') return;
      out.push({ text: (firstSystem ? '' : '\n\n') + m.content, message: i, part: 'completion' });
      firstSystem = false;
    });
    messages.forEach((m, i) => {
      const afterTool = i > 0 && messages[i - 1]!.role === 'tool';
      if (m.role === 'user') {
        if (afterTool) out.push({ text: OUTPUTS_END, message: i - 1, part: 'trailer' });
        out.push({ text: USER, message: i, part: 'header' }, { text: m.content, message: i, part: 'completion' });
      } else if (m.role === 'assistant') {
        out.push({ text: afterTool ? OUTPUTS_END : ASSISTANT, message: i, part: 'header' });
        out.push({ text: m.content + toolCallsText(m.toolCalls ?? []) + EOS, message: i, part: 'completion' });
      } else if (m.role === 'tool') {
        out.push({ text: afterTool ? '\n' + OUTPUT_BEGIN : OUTPUTS_BEGIN + OUTPUT_BEGIN, message: i, part: 'header' });
        out.push({ text: m.content + OUTPUT_END, message: i, part: 'completion' });
      }
    });
    if (messages[messages.length - 1]?.role === 'tool') out.push({ text: OUTPUTS_END, message: messages.length - 1, part: 'trailer' });
    return out;
  }

  /** After tool results the model answers right after <｜tool▁outputs▁end｜>, which `render` already wrote. */
  protected generationHeader(messages: readonly Message[]): string {
    return messages[messages.length - 1]?.role === 'tool' ? '' : ASSISTANT;
  }

  stopSequences(): number[] {
    return [this.tokenId(EOS)];
  }

  parseResponse(tokens: readonly number[]): ParsedResponse {
    const { body, stopped } = untilStop(tokens, this.stopSequences());
    const text = this.tokenizer.decode(body);
    const at = text.indexOf(CALLS_BEGIN);
    if (at < 0) return { message: { role: 'assistant', content: text }, ok: stopped };
    const message: Message = { role: 'assistant', content: text.slice(0, at) };
    let ok = stopped && text.endsWith(CALLS_END);
    const calls = text.slice(at + CALLS_BEGIN.length).replace(new RegExp(`${CALLS_END}$`), '');
    const toolCalls: ToolCall[] = [];
    for (const block of calls.split(CALL_BEGIN).slice(1)) {
      const call = /^function<｜tool▁sep｜>([^\n]+)\n```json\n([\s\S]*)\n```<｜tool▁call▁end｜>\n?$/.exec(block);
      if (!call) {
        ok = false;
        continue;
      }
      try {
        JSON.parse(call[2]!);
      } catch {
        ok = false;
      }
      toolCalls.push({ name: call[1]!, arguments: call[2]! });
    }
    if (toolCalls.length === 0) ok = false;
    else message.toolCalls = toolCalls;
    return { message, ok };
  }
}

function toolCallsText(calls: readonly ToolCall[]): string {
  if (calls.length === 0) return '';
  return CALLS_BEGIN + calls.map((c) => `${CALL_BEGIN}function${SEP}${c.name}\n\`\`\`json\n${c.arguments}\n\`\`\`${CALL_END}`).join('\n') + CALLS_END;
}
