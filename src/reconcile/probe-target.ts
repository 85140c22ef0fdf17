/** A server manifest's service as a probe target (port, path, host, expected statuses). */
import { servicePort, serviceSettings } from '../manifest/services.ts';
import type { ServerDocument, ServiceName } from '../manifest/types.ts';
import type { ProbeTarget } from '../probe/types.ts';

export function probeTargetOf(doc: ServerDocument, service: ServiceName, timeoutMs: number, sourceAddress?: string): ProbeTarget {
  const target: ProbeTarget = { service, address: doc.spec.address, timeoutMs };
  if (sourceAddress !== undefined) target.sourceAddress = sourceAddress;
  const s = serviceSettings(doc, service) ?? {};
  // servicePort, not s.port: a verify that waits for ssh on a server not watching ssh still knocks on its SSH port.
  const port = servicePort(doc, service);
  if (port !== undefined) target.port = port;
  if (s.path !== undefined) target.path = s.path;
  if (s.host !== undefined) target.host = s.host;
  if (s.expectStatus !== undefined) target.expectStatus = [...s.expectStatus];
  if (s.starttls === true) target.starttls = true;
  return target;
}
