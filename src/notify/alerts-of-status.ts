/**
 * What holds now, as Alertmanager alerts: read from the servers' status (the controller's own
 * view), never rebuilt from events. One alert per failing service and one per server condition
 * that needs a person; labels are bounded (server, service, customer, reason, severity) and carry
 * no address or secret.
 */
import { serverIdOf } from '../manifest/server-id.ts';
import type { AlertState } from './alertmanager.ts';
import type { ServerStatus } from '../status/model.ts';

/** Service states that are alerts: a person may want to know before mamori has finished. */
const FAILING = new Set(['Down', 'Remediating', 'Escalated']);

/** Whether a service in this state is an alert (a transition into one may begin an alert). */
export function isAlertingState(state: string): boolean {
  return FAILING.has(state);
}

/** Server conditions that are alerts when True (Monitored when False), with their severity. */
const CONDITION_ALERTS: ReadonlyArray<{ type: string; when: 'True' | 'False'; alertname: string; severity: 'warning' | 'critical' }> = [
  { type: 'MassFailurePaused', when: 'True', alertname: 'MamoriMassFailurePaused', severity: 'critical' },
  { type: 'ManifestInvalid', when: 'True', alertname: 'MamoriManifestInvalid', severity: 'warning' },
  { type: 'HostKeyChanged', when: 'True', alertname: 'MamoriHostKeyChanged', severity: 'critical' },
  { type: 'AccessBlocked', when: 'True', alertname: 'MamoriAccessBlocked', severity: 'warning' },
  { type: 'Monitored', when: 'False', alertname: 'MamoriNotMonitored', severity: 'critical' },
];

function withCustomer(labels: Record<string, string>, s: ServerStatus): Record<string, string> {
  return s.metadata.customer !== undefined ? { ...labels, customer: s.metadata.customer } : labels;
}

export function alertsOfStatus(servers: readonly ServerStatus[]): AlertState[] {
  const out: AlertState[] = [];
  for (const s of servers) {
    // customer/name: two customers' web01 are two alerts (the customer label says whose, too).
    const server = serverIdOf(s);
    for (const [service, st] of Object.entries(s.services)) {
      if (!FAILING.has(st.state)) continue;
      // The reason names the alert, so it stays the same through one incident (Down, held,
      // Remediating): it changes only when the incident escalates, which pages at a higher severity.
      const reason = st.escalation ?? 'Down';
      out.push({
        labels: withCustomer({ alertname: 'MamoriServiceDown', server, service, reason, severity: st.state === 'Escalated' ? 'critical' : 'warning' }, s),
        annotations: {
          summary: `${service} on ${server} is ${st.state}${st.escalation !== undefined ? ` (${st.escalation})` : st.hold !== undefined ? ` (held: ${st.hold})` : ''}`,
          description: st.state === 'Escalated' ? 'mamori will not act again on its own: a person is needed (mamori resume when done).' : 'mamori is repairing it or waits for a reason shown in the status.',
        },
        startsAt: st.since,
      });
    }
    for (const rule of CONDITION_ALERTS) {
      const c = s.conditions.find((x) => x.type === rule.type);
      if (c === undefined || c.status !== rule.when) continue;
      out.push({
        labels: withCustomer({ alertname: rule.alertname, server, reason: c.reason, severity: rule.severity }, s),
        annotations: { summary: `${server}: ${rule.type} ${c.status} (${c.reason})`, description: c.message },
        startsAt: c.lastTransitionTime,
      });
    }
  }
  return out;
}

/** The daemon's own conditions: a state folder that cannot be written stops every repair. */
export function daemonAlerts(input: { stateWritable: boolean; since: string }): AlertState[] {
  if (input.stateWritable) return [];
  return [
    {
      labels: { alertname: 'MamoriStateUnwritable', severity: 'critical', reason: 'StateUnwritable' },
      annotations: { summary: 'the state folder cannot be written: probing goes on, no runbook starts', description: 'Free space or fix the disk under the state folder; what waits in memory is written when it can be.' },
      startsAt: input.since,
    },
  ];
}
