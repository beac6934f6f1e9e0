// The special tokens of DeepSeek's chat formats (V3 and V3.1 write them the same).
export const BOS = '<｜begin▁of▁sentence｜>';
export const EOS = '<｜end▁of▁sentence｜>';
export const USER = '<｜User｜>';
export const ASSISTANT = '<｜Assistant｜>';
export const CALLS_BEGIN = '<｜tool▁calls▁begin｜>';
export const CALLS_END = '<｜tool▁calls▁end｜>';
export const CALL_BEGIN = '<｜tool▁call▁begin｜>';
export const CALL_END = '<｜tool▁call▁end｜>';
export const SEP = '<｜tool▁sep｜>';
export const OUTPUTS_BEGIN = '<｜tool▁outputs▁begin｜>';
export const OUTPUTS_END = '<｜tool▁outputs▁end｜>';
export const OUTPUT_BEGIN = '<｜tool▁output▁begin｜>';
export const OUTPUT_END = '<｜tool▁output▁end｜>';
