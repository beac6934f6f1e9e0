// A chat message as renderers read it: text content, optional reasoning, and tool calls, in the
// shape the models' chat templates take (OpenAI-style `tool_calls` with JSON-string arguments).

export type Role = 'system' | 'user' | 'assistant' | 'tool' | 'developer';

export interface ToolCall {
  /** Function name. */
  name: string;
  /** Arguments as a JSON object string, exactly as the model wrote (or should write) them. */
  arguments: string;
  id?: string;
}

export interface Message {
  role: Role;
  content: string;
  /** The model's reasoning before its answer (Qwen3's <think>, gpt-oss's analysis channel). */
  thinking?: string;
  toolCalls?: ToolCall[];
  /** For role "tool": the call being answered. */
  toolCallId?: string;
  /** With TrainOnWhat "customized": whether this message's completion carries weight. */
  trainable?: boolean;
}

/** A function the model may call, as a JSON-schema tool description. */
export interface ToolSpec {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}
