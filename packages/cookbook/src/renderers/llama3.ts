// Llama 3's chat format, as its chat template renders it (tokenizer_config.json of
// meta-llama/Meta-Llama-3-8B-Instruct): <|begin_of_text|>, then per message a role header and the
// trimmed content ending in <|eot_id|>.
import type { Message } from './message.js';
import { Renderer, untilStop, type ParsedResponse, type Segment } from './renderer.js';

export class Llama3Renderer extends Renderer {
  readonly name = 'llama3';

  protected render(messages: readonly Message[]): Segment[] {
    const out: Segment[] = [{ text: '<|begin_of_text|>', message: -1, part: 'header' }];
    messages.forEach((m, i) => {
      out.push({ text: `<|start_header_id|>${m.role}<|end_header_id|>\n\n`, message: i, part: 'header' });
      out.push({ text: m.content.trim() + '<|eot_id|>', message: i, part: 'completion' });
    });
    return out;
  }

  protected generationHeader(): string {
    return '<|start_header_id|>assistant<|end_header_id|>\n\n';
  }

  stopSequences(): number[] {
    return [this.tokenId('<|eot_id|>')];
  }

  parseResponse(tokens: readonly number[]): ParsedResponse {
    const { body, stopped } = untilStop(tokens, [this.tokenId('<|eot_id|>')]);
    return { message: { role: 'assistant', content: this.tokenizer.decode(body) }, ok: stopped };
  }
}
