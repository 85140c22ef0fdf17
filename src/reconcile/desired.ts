/**
 * A server manifest as the reconciler needs it: the services (names only), the place it stands,
 * whether repairs are suspended, and its maintenance windows as epoch ms. Pure.
 */
import { serverIdOf } from '../manifest/server-id.ts';
import type { ServerDocument } from '../manifest/types.ts';
import { serviceNames } from '../manifest/services.ts';
import { serviceOrder } from './decide.ts';
import { groupKeysOf } from './mass-failure.ts';
import type { DesiredServer, MaintenanceWindow } from './types.ts';

export function desiredFromManifest(doc: ServerDocument): DesiredServer {
  const maintenance: MaintenanceWindow[] = [];
  for (const w of doc.spec.maintenance ?? []) {
    const reason = w.reason !== undefined ? { reason: w.reason } : {};
    if (w.schedule !== undefined && w.durationMinutes !== undefined) {
      maintenance.push({ kind: 'recurring', schedule: w.schedule, timeZone: w.timeZone ?? 'UTC', durationMs: w.durationMinutes * 60_000, ...reason });
      continue;
    }
    const startMs = Date.parse(w.start ?? '');
    const endMs = Date.parse(w.end ?? '');
    if (Number.isFinite(startMs) && Number.isFinite(endMs)) maintenance.push({ startMs, endMs, ...reason });
  }
  const suspend = doc.spec.suspend;
  const suspendUntilMs = typeof suspend === 'object' ? Date.parse(suspend.until) : undefined;
  const d: DesiredServer = {
    // The server's id (customer/name): the key of every record about it.
    name: serverIdOf(doc),
    address: doc.spec.address,
    // ping, then ssh, then the rest: the order decide judges them in (a host down covers its services).
    services: serviceOrder(serviceNames(doc)),
    suspend: suspend === true || typeof suspend === 'object',
    maintenance,
  };
  if (suspendUntilMs !== undefined && Number.isFinite(suspendUntilMs)) d.suspendUntilMs = suspendUntilMs;
  if (doc.spec.location !== undefined) d.location = { ...doc.spec.location };
  d.groupKeys = groupKeysOf(d);
  return d;
}
