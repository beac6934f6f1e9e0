// The environment in a browser (or an edge worker): no environment variables, no process, no
// machine names; progress goes to the console.
import type { Environment, LineSink } from './environment.js';

const consoleSink: LineSink = {
  isTTY: false,
  write: (text) => {
    const line = text.replace(/\n$/, '');
    if (line) console.log(line);
  },
};

export const environment: Environment = {
  variable: () => undefined,
  describe: () => ({ os: 'Unknown', arch: 'unknown', runtime: 'browser', version: 'unknown' }),
  isThisMachine: () => false,
  allowManyListeners: () => {},
  standardError: () => consoleSink,
};
