#!/usr/bin/env node
// The `tinker-ts-cookbook` command: runs the compiled recipe CLI (build with `npm run build` at the repo root).
import { runCookbookCli } from '../dist/cli/main.js';

process.exitCode = await runCookbookCli(process.argv.slice(2));
