/** What a vantage-point agent probes: every watched server's services as probe targets (no secrets, no runbooks). */
import type { ProbeTarget } from '../probe/types.ts';
import { serverIdOf } from '../manifest/server-id.ts';
import type { ServerDocument } from '../manifest/types.ts';
import { desiredFromManifest } from './desired.ts';
import { probeTargetOf } from './probe-target.ts';
import type { Policy } from './types.ts';

/** What an agent probes: each watched server's targets, and how often. */
export interface AgentTargets {
  intervalSeconds: number;
  timeoutSeconds: number;
  servers: Array<{ id: string; targets: ProbeTarget[] }>;
}

export function agentTargetsOf(docs: readonly ServerDocument[], policy: Policy): AgentTargets {
  return {
    intervalSeconds: policy.intervalMs / 1000,
    timeoutSeconds: policy.timeoutMs / 1000,
    servers: docs.map((doc) => ({ id: serverIdOf(doc), targets: desiredFromManifest(doc).services.map((s) => probeTargetOf(doc, s, policy.timeoutMs)) })),
  };
}
