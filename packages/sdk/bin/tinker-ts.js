#!/usr/bin/env node
// The `tinker-ts` command: runs the compiled CLI (build with `npm run build` at the repo root).
import { runCli } from '../dist/cli/main.js';

runCli(process.argv.slice(2));
