/** Shared by the manifest tests: the repository's paths and a config without a file. */
import { fileURLToPath } from 'node:url';
import { defaultConfig } from '../../src/config/load-config.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const INVALID = fileURLToPath(new URL('../fixtures/invalid/', import.meta.url));
export const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
export const config = defaultConfig(REPO);
