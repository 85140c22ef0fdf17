/** A server manifest's service as a probe target (port, path, host, expected statuses). */
import type { ServerDocument, ServiceName } from '../manifest/types.ts';
import type { ProbeTarget } from '../probe/types.ts';

export function probeTargetOf(doc: ServerDocument, service: ServiceName, timeoutMs: number, sourceAddress?: string): ProbeTarget {
  const target: ProbeTarget = { service, address: doc.spec.address, timeoutMs };
  if (sourceAddress !== undefined) target.sourceAddress = sourceAddress;
  for (const entry of doc.spec.services) {
    if (typeof entry === 'string' || !(service in entry)) continue;
    const opts = entry[service];
    if (opts === null || opts === undefined) continue;
    if (opts.port !== undefined) target.port = opts.port;
    if (opts.path !== undefined) target.path = opts.path;
    if (opts.host !== undefined) target.host = opts.host;
    if (opts.expectStatus !== undefined) target.expectStatus = opts.expectStatus;
    if (opts.starttls === true) target.starttls = true;
  }
  if (service === 'ssh' && target.port === undefined && doc.spec.access.port !== undefined) target.port = doc.spec.access.port;
  return target;
}
