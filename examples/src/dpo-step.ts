// Direct Preference Optimization with a loss written on the client: `forwardBackwardCustom` hands
// each sequence's target-token logprobs to our function, which computes the DPO loss with `Var`
// (the SDK differentiates it) and sends the gradient back as one cross-entropy pass.
// With `serverSide`, the same loss is traced once (`traceCustomLoss`, over `Sym`s) and registered
// with the server, which evaluates it inside one forward_backward: one request per step.
//
//   node examples/dist/dpo-step.js [--server-side]
import { runIfMain } from './run-if-main.js';
import {
  ServiceClient, Sym, TensorData, differentiable, dpoLoss, sequenceLogprob, traceCustomLoss,
  type CustomLossFn, type Datum, type DpoPair, type ForwardBackwardOutput, type ServiceClientOptions,
} from '@tinker-ts/sdk';
import { conversationToDatum, readConversations, type Conversation } from './conversations.js';
import { INTENTS, INTENT_TRAIN_FILE, expectedIntent, intentReply } from './intent-task.js';

export interface DpoOptions {
  baseModel?: string;
  /** Preference pairs taken from the intent data (chosen: the right intent, rejected: a wrong one). */
  pairs?: number;
  steps?: number;
  /** DPO temperature: how far the policy may move from the reference. */
  beta?: number;
  learningRate?: number;
  rank?: number;
  /** Register the loss with the server (one request per step) instead of computing it here. */
  serverSide?: boolean;
  client?: ServiceClientOptions;
  log?: (line: string) => void;
}

export interface DpoStepMetrics {
  step: number;
  loss: number;
  /** Mean β·((chosen − ref) − (rejected − ref)) before this step's update. */
  margin: number;
  /** Share of pairs whose chosen reply the policy prefers more than the reference does. */
  accuracy: number;
}

const DEFAULTS = { baseModel: 'tinker-ts/tiny-qwen3', pairs: 8, steps: 6, beta: 0.1, learningRate: 1e-3, rank: 16, serverSide: false };

export async function main(options: DpoOptions = {}): Promise<{ metrics: DpoStepMetrics[] }> {
  const o = { ...DEFAULTS, ...options };
  const log = o.log ?? ((line: string) => console.log(line));
  const conversations = readConversations(INTENT_TRAIN_FILE).slice(0, o.pairs);

  const service = new ServiceClient(o.client ?? {});
  try {
    const training = await service.createLoraTrainingClient({ baseModel: o.baseModel, rank: o.rank });
    const tokenizer = await training.getTokenizer();
    // Interleaved: data[2i] is pair i's chosen reply, data[2i + 1] its rejected one.
    const data: Datum[] = conversations.flatMap((c) => [
      conversationToDatum(tokenizer, c.messages),
      conversationToDatum(tokenizer, withReply(c, intentReply(wrongIntent(expectedIntent(c))))),
    ]);
    const masks = data.map((d) => d.lossFnInputs['weights']!.toArray());

    // The reference policy is the model before any update (a fresh LoRA adapter adds nothing).
    const reference = await training.forward(data, 'cross_entropy');
    const refLogprob = reference.lossFnOutputs.map((out, i) => {
      const lp = out['logprobs']!.toArray();
      return lp.reduce((sum, x, k) => sum + x * masks[i]![k]!, 0);
    });

    const loss: CustomLossFn = differentiable((_data, logprobs) => {
      const pairs: DpoPair[] = [];
      for (let i = 0; i < logprobs.length; i += 2) {
        pairs.push({
          chosen: sequenceLogprob(logprobs[i]!, masks[i]!),
          rejected: sequenceLogprob(logprobs[i + 1]!, masks[i + 1]!),
          refChosen: refLogprob[i]!,
          refRejected: refLogprob[i + 1]!,
        });
      }
      const dpo = dpoLoss(pairs, o.beta);
      return { loss: dpo.loss, metrics: { ...dpo.metrics, 'dpo_loss:mean': dpo.loss.value } };
    });

    // The same loss for the server: the masks ride along as `weights`, the references as `ref_logprob`.
    const serverLoss = o.serverSide
      ? await training.createCustomLoss(traceCustomLoss({ name: 'dpo', datums: data.length, inputs: { weights: 1, ref_logprob: 0 } }, ({ logprobs, weights, ref_logprob }) => {
        const rel = (i: number) => logprobs.at(i).dot(weights.at(i)).sub(ref_logprob.at(i).sum());
        const margins: Sym[] = [];
        for (let i = 0; i < data.length; i += 2) margins.push(rel(i).sub(rel(i + 1)).mul(o.beta));
        const dpoLossSym = Sym.mean(margins.map((m) => m.logSigmoid().neg()));
        return { loss: dpoLossSym, metrics: { 'dpo_loss:mean': dpoLossSym, 'dpo_margin:mean': Sym.mean(margins), 'dpo_accuracy:mean': Sym.mean(margins.map((m) => m.gt(0))) } };
      }))
      : null;
    const serverData = data.map((d, i) => d.withLossFnInputs({ ref_logprob: TensorData.float32([refLogprob[i]!]) }));

    const metrics: DpoStepMetrics[] = [];
    for (let step = 0; step < o.steps; step++) {
      const fwdBwd: PromiseLike<ForwardBackwardOutput> = serverLoss ? training.forwardBackward(serverData, serverLoss) : training.forwardBackwardCustom(data, loss);
      const optim = training.optimStep({ learningRate: o.learningRate, beta1: 0.9, beta2: 0.95, eps: 1e-8 });
      const result = await fwdBwd;
      await optim;
      const m: DpoStepMetrics = {
        step,
        loss: result.metrics['dpo_loss:mean'] ?? NaN,
        margin: result.metrics['dpo_margin:mean'] ?? NaN,
        accuracy: result.metrics['dpo_accuracy:mean'] ?? NaN,
      };
      metrics.push(m);
      log(`step ${step}: DPO loss ${m.loss.toFixed(4)}, margin ${m.margin.toFixed(4)}, preference accuracy ${(m.accuracy * 100).toFixed(0)}%`);
    }
    return { metrics };
  } finally {
    await service.close();
  }
}

function wrongIntent(intent: string): string {
  const i = (INTENTS as readonly string[]).indexOf(intent);
  return INTENTS[(i + 1) % INTENTS.length]!;
}

function withReply(c: Conversation, reply: string): Conversation['messages'] {
  return [...c.messages.slice(0, -1), { role: 'assistant', content: reply }];
}

runIfMain(import.meta.url, 'dpo-step', () => main({ serverSide: process.argv.includes('--server-side') }));
