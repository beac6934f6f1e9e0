// @tinker-ts/cookbook: renderers, hyperparameters, RL diagnostics, cost accounting and recipes.

// Renderers
export { Renderer, pythonJson } from './renderers/renderer.js';
export type { Segment, RenderOptions, SupervisedExample, ParsedResponse } from './renderers/renderer.js';
export type { Message, Role, ToolCall, ToolSpec } from './renderers/message.js';
export { TRAIN_ON_WHAT, isTrainedMessage } from './renderers/train-on-what.js';
export type { TrainOnWhat } from './renderers/train-on-what.js';
export { Qwen3Renderer } from './renderers/qwen3.js';
export type { Qwen3RendererOptions } from './renderers/qwen3.js';
export { Llama3Renderer } from './renderers/llama3.js';
export { RoleColonRenderer } from './renderers/role-colon.js';
export { getRenderer, recommendedRendererName, RENDERER_NAMES } from './renderers/registry.js';
export type { RendererName } from './renderers/registry.js';
