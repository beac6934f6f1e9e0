// A plain-text format for base models without a chat template: "User: ...\n\nAssistant: ...",
// each turn ending in a blank line. The model's turn ends where it starts the next "User:".
import type { Tokenizer } from '@tinker-ts/sdk';
import type { Message } from './message.js';
import { Renderer, type ParsedResponse, type Segment } from './renderer.js';

const STOP = '\n\nUser:';

export class RoleColonRenderer extends Renderer {
  readonly name = 'role_colon';

  constructor(tokenizer: Tokenizer) {
    super(tokenizer);
  }

  protected render(messages: readonly Message[]): Segment[] {
    const out: Segment[] = [];
    const bos = this.tokenizer.bosTokenId;
    if (bos !== undefined) out.push({ text: this.tokenizer.decode([bos]), message: -1, part: 'header' });
    messages.forEach((m, i) => {
      out.push({ text: `${roleName(m.role)}:`, message: i, part: 'header' });
      // The completion starts with the space after the colon, as the model writes it.
      out.push({ text: ` ${m.content}\n\n`, message: i, part: 'completion' });
    });
    return out;
  }

  protected generationHeader(): string {
    return 'Assistant:';
  }

  stopSequences(): string[] {
    return [STOP];
  }

  parseResponse(tokens: readonly number[]): ParsedResponse {
    const text = this.tokenizer.decode([...tokens]);
    const at = text.indexOf(STOP);
    const content = (at < 0 ? text : text.slice(0, at)).trim();
    return { message: { role: 'assistant', content }, ok: at >= 0 };
  }
}

function roleName(role: string): string {
  return role.charAt(0).toUpperCase() + role.slice(1);
}
