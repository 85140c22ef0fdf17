// The worker thread's entry: Node 20 runs only JavaScript in a new thread, so TypeScript
// is loaded through tsx here, as bin/mamori.js does for the main thread.
import { register } from 'tsx/esm/api';

register();
await import('./shell-parse-worker.ts');
