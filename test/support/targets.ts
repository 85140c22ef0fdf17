/** The embedded default target networks (loopback, the lab's 10.231.0.0/16, documentation ranges) as the tests' target check. */
import { DEFAULT_TARGET_NETWORKS } from '../../src/config/defaults.ts';
import { targetCheck } from '../../src/manifest/target-networks.ts';

export const LAB_TARGETS = targetCheck(DEFAULT_TARGET_NETWORKS);
