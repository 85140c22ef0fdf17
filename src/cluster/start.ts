/**
 * The daemon's side of the replicas: the cluster joined (or joining in the background while etcd is
 * unreachable) and the controller's coordinator on it.
 */
import type { Logger } from 'pino';
import type { MamoriConfig } from '../config/types.ts';
import type { Policy } from '../reconcile/types.ts';
import { Cluster } from './cluster.ts';
import { ClusterCoordinator } from './remediation-coordinator.ts';

export async function startCluster(config: NonNullable<MamoriConfig['cluster']>, policy: Policy, logger: Logger): Promise<{ cluster: Cluster; coordinator: ClusterCoordinator }> {
  const log = logger.child({ component: 'cluster' });
  const cluster = new Cluster({ endpoints: config.endpoints, prefix: config.prefix, replica: config.replica, ttlSeconds: config.leaseSeconds, callTimeoutMs: 3000, apiUrl: config.apiUrl }, log);
  await cluster.start();
  return { cluster, coordinator: new ClusterCoordinator(cluster, policy, config.stepDeadlineSeconds * 1000, log) };
}
