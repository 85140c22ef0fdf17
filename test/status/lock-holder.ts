/** Test helper process: takes the state lock of argv[2], prints "locked", then waits. */
import { acquireStateLock } from '../../src/status/lock.ts';

const state = process.argv[2];
if (state === undefined) process.exit(2);
await acquireStateLock(state, { purpose: 'test-holder' });
process.stdout.write('locked\n');
setInterval(() => undefined, 1000);
