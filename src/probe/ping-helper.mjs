// The ping helper's entry from the sources: Node 20 runs only JavaScript, so TypeScript is loaded
// through tsx here, as bin/mamori.js does for the daemon (the bundle has dist/ping-helper.js).
import { register } from 'tsx/esm/api';

register();
await import('./ping-helper.ts');
