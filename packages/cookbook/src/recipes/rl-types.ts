// The RL recipe's environment types, as the Python cookbook names them: an Env gives an initial
// observation (the tokens the policy continues) and answers each action (the sampled tokens)
// with a reward and whether the episode is done; an EnvGroupBuilder makes the group of envs
// for one prompt, whose rewards are centred into advantages; an RLDataset yields the groups
// of each batch.

/** Tokens the policy reads: the prompt of its next turn. */
export type Observation = number[];
/** Tokens the policy sampled. */
export type Action = number[];

/** When the policy's turn ends. */
export interface StopCondition {
  /** Stop tokens or strings, as the renderer's stopSequences() gives them. */
  stop?: number[] | string[];
  maxTokens?: number;
}

export interface StepResult {
  reward: number;
  episodeDone: boolean;
  /** The next turn's full context (usually the previous observation + action + the env's reply); required unless done. */
  nextObservation?: Observation;
  nextStopCondition?: StopCondition;
  /** Numbers logged under env/ (averaged over the batch). */
  metrics?: Record<string, number>;
}

export interface Env {
  initialObservation(): Promise<{ observation: Observation; stopCondition: StopCondition }> | { observation: Observation; stopCondition: StopCondition };
  step(action: Action): Promise<StepResult> | StepResult;
}

/** One turn of an episode. */
export interface Transition {
  observation: Observation;
  action: Action;
  /** The sampler's logprob of each action token. */
  actionLogprobs: number[];
  reward: number;
  episodeDone: boolean;
  metrics: Record<string, number>;
}

export interface Trajectory {
  transitions: Transition[];
}

export interface EnvGroupBuilder {
  /** The group's envs (usually copies of one problem). */
  makeEnvs(): Promise<Env[]> | Env[];
  /** Rewards that need the whole group (e.g. pairwise comparisons), added to each trajectory's; default none. */
  computeGroupRewards?(trajectories: readonly Trajectory[]): Promise<number[]> | number[];
  /** Tags for logging (e.g. the dataset's name). */
  logTags?(): string[];
}

export interface RLDataset {
  /** The groups of batch `index`. */
  getBatch(index: number): Promise<EnvGroupBuilder[]> | EnvGroupBuilder[];
  /** Batches in one pass over the data. */
  readonly length: number;
}
