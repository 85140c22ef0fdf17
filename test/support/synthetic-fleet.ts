/**
 * A synthetic fleet status for the page at scale (test/http/page-fleet.test.ts, bench/page.ts):
 * N servers × 6 services as the controller would report them, 100 customers, and every 100th
 * server (index ≡ 37 mod 100) with http in trouble — Down, Remediating, Escalated, Suspect in turn,
 * an open incident for all but Suspect.
 */
import type { ServerStatus } from '../../src/status/model.ts';

export const SYNTHETIC_SERVICES = ['ping', 'ssh', 'http', 'ftp', 'smtp', 'imap'] as const;
const TROUBLE = ['Down', 'Remediating', 'Escalated', 'Suspect'] as const;

export const syntheticCustomer = (i: number): string => `c${String(i % 100).padStart(2, '0')}`;
/** Server i's trouble (its http state), if any. */
export const syntheticTrouble = (i: number): (typeof TROUBLE)[number] | undefined => (i % 100 === 37 ? TROUBLE[Math.floor(i / 100) % TROUBLE.length] : undefined);

/** Server i: customer c<i mod 100>, name s<i>; every 100th server has a service in trouble. */
export function syntheticFleet(n: number, now: number): ServerStatus[] {
  const at = new Date(now - 5_000).toISOString();
  const since = new Date(now - 3_600_000).toISOString();
  const out: ServerStatus[] = [];
  for (let i = 0; i < n; i++) {
    const customer = syntheticCustomer(i);
    const bad = syntheticTrouble(i);
    const services: ServerStatus['services'] = {};
    for (const svc of SYNTHETIC_SERVICES) {
      const state = bad !== undefined && svc === 'http' ? bad : 'Healthy';
      const up = state === 'Healthy';
      services[svc] = { state, since, consecutiveFailures: up ? 0 : 3, lastProbe: { at, up, latencyMs: 3 + (i % 17), ...(up ? {} : { failureKind: 'refused' }) } };
    }
    out.push({
      apiVersion: 'mamori/v1',
      kind: 'ServerStatus',
      metadata: { name: `s${i}`, customer },
      observedRevision: '0123456789abcdef0123',
      updatedAt: at,
      conditions: [{ type: 'Ready', status: bad === undefined ? 'True' : 'False', reason: bad === undefined ? 'AllServicesUp' : 'ServicesFailing', message: bad === undefined ? 'every watched service answers' : 'failing: http', lastTransitionTime: since }],
      services,
      incidents: { open: bad !== undefined && bad !== 'Suspect' ? [{ id: `${customer}/s${i}.http.1`, service: 'http', openedAt: since, detectedAt: since, attempts: [] }] : [], recent: [] },
    });
  }
  return out;
}

