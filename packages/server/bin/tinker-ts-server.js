#!/usr/bin/env node
// The `tinker-ts-server` command: runs the compiled server CLI (build with `npm run build` at the repo root).
import { runServerCli } from '../dist/cli/main.js';

runServerCli(process.argv.slice(2));
