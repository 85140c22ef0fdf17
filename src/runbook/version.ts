/**
 * Version comparison for runbook selection: the loader's own (src/manifest/version.ts),
 * so that selection and the catalog check can never disagree on what "6.3 or later" means.
 */
export { compareVersions, versionInRange } from '../manifest/version.ts';
