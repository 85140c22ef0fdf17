/**
 * A synthetic server document for the in-process benches (bench/reconcile.ts, bench/pass.ts): server
 * i of a fleet, its address from i, 500 customers, 4 sites, 400 racks. Nothing is probed: the address
 * is never dialled.
 */
import type { ServerDocument, ServiceName } from '../src/manifest/types.ts';

/** `services` is used as given (not copied): pass a fresh array for documents that must not share one. */
export function syntheticServer(i: number, services: ServiceName[]): ServerDocument {
  return {
    apiVersion: 'mamori/v1',
    kind: 'Server',
    metadata: { name: `srv${i}`, customer: `c${i % 500}` },
    spec: {
      address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      os: { family: 'centos', version: '5.4' },
      plan: 'basic',
      contact: { email: `ops${i % 500}@example.com` },
      allowedNetworks: ['210.224.172.0/24'],
      location: { site: `dc${i % 4}`, rack: `r${i % 400}` },
      services,
      access: { user: 'mamori', hostKey: `SHA256:${'A'.repeat(43)}`, credentials: { secretRef: 'k' } },
    },
  };
}
