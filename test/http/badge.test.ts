import { describe, expect, test } from 'vitest';
import { badgeText, renderBadge } from '../../src/http/page/badge.ts';
import type { ServerStatus } from '../../src/status/model.ts';

function server(name: string, states: Record<string, string>): ServerStatus {
  const services = Object.fromEntries(Object.entries(states).map(([k, state]) => [k, { state, since: '2026-11-25T00:00:00Z', consecutiveFailures: 0 }]));
  return { apiVersion: 'mamori/v1', kind: 'ServerStatus', metadata: { name, customer: 'acme' }, observedRevision: 'r', updatedAt: '2026-11-25T00:00:00Z', conditions: [], services, incidents: { open: [], recent: [] } } as unknown as ServerStatus;
}

describe('the badge', () => {
  const fleet = [server('web01', { ping: 'Healthy', http: 'Down', ssh: 'Healthy' }), server('web02', { ping: 'Healthy', http: 'Remediating' }), server('web03', { ping: 'Healthy' })];
  test.each([
    ['web01', undefined, 'web01', '1 down', 'down'],
    ['web01', 'ssh', 'web01 ssh', 'healthy', 'up'],
    ['web02', undefined, 'web02', 'degraded', 'degraded'],
    ['web03', undefined, 'web03', 'up', 'up'],
    ['web01', 'smtp', 'web01 smtp', 'unknown', 'unknown'],
    // Not in the reader's view: not echoed back.
    ['globex-web1', undefined, 'mamori', 'unknown', 'unknown'],
  ])('%s %s → %s: %s', (name, service, label, message, look) => {
    expect(badgeText(fleet, name, service)).toEqual({ label, message, look });
  });

  test('text is escaped and bounded', () => {
    const svg = renderBadge({ label: '<script>x</script>'.repeat(20), message: 'up', look: 'up' });
    expect(svg).not.toContain('<script>');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.length).toBeLessThan(2000);
  });
});
