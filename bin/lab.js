#!/usr/bin/env node
// `npm run lab -- up|down|status|break|power|pull|plug|console`: the lab for people, run from
// the TypeScript sources through tsx like bin/mamori.js.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../test/lab/cli.ts');
process.exitCode = await main(process.argv);
