// A run's checkpoints.jsonl: the cookbook's, which the recipes behind these examples write.
export { checkpointLogFile, lastResumableCheckpoint, readCheckpoints, saveCheckpoint } from '@tinker-ts/cookbook';
export type { CheckpointKind, CheckpointRecord } from '@tinker-ts/cookbook';
