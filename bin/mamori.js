#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx: one less build step between a
// checkout and a working `mamori`, and the stack traces point at the real files.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
