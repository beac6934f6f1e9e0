// Which tokens of a conversation a supervised example trains on (the cookbook's TrainOnWhat).
import type { Message } from './message.js';

export type TrainOnWhat =
  /** Only the final assistant message's completion (the default). */
  | 'last_assistant_message'
  /** Every assistant message's completion. */
  | 'all_assistant_messages'
  /** Every message's completion, whatever its role. */
  | 'all_messages'
  /** Every token, headers and BOS included. */
  | 'all_tokens'
  /** User and system messages' completions (e.g. to learn a user simulator). */
  | 'all_user_and_system_messages'
  /** The messages marked `trainable: true`. */
  | 'customized';

export const TRAIN_ON_WHAT: readonly TrainOnWhat[] = [
  'last_assistant_message',
  'all_assistant_messages',
  'all_messages',
  'all_tokens',
  'all_user_and_system_messages',
  'customized',
];

/** Whether message `index` of `messages` is trained on (its completion part; headers never, except with all_tokens). */
export function isTrainedMessage(messages: readonly Message[], index: number, what: TrainOnWhat): boolean {
  const m = messages[index]!;
  switch (what) {
    case 'last_assistant_message':
      return index === messages.length - 1 && m.role === 'assistant';
    case 'all_assistant_messages':
      return m.role === 'assistant';
    case 'all_messages':
    case 'all_tokens':
      return true;
    case 'all_user_and_system_messages':
      return m.role === 'user' || m.role === 'system';
    case 'customized':
      return m.trainable === true;
  }
}
