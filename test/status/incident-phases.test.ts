import { expect, test } from 'vitest';
import { formatIncidentPhases, incidentPhases } from '../../src/status/incident-phases.ts';
import type { IncidentStatus } from '../../src/status/model.ts';

const incident: IncidentStatus = {
  id: 'web01.http.20261125T000010.000Z',
  service: 'http',
  detectedAt: '2026-11-25T00:00:00.000Z',
  openedAt: '2026-11-25T00:00:10.000Z',
  attempts: [
    { n: 1, startedAt: '2026-11-25T00:00:10.000Z', finishedAt: '2026-11-25T00:00:14.500Z', verdict: 'VerifyFailed' },
    { n: 2, startedAt: '2026-11-25T00:00:16.000Z', finishedAt: '2026-11-25T00:00:19.250Z', verdict: 'Recovered' },
  ],
  closedAt: '2026-11-25T00:00:19.250Z',
  closeReason: 'recovered',
};

test('an incident\'s phases are listed in order, in seconds after the first failing probe', () => {
  const phases = incidentPhases(incident);
  expect(phases.map((p) => [p.name, p.offsetS])).toEqual([
    ['first failing probe', 0],
    ['confirmed Down', 10],
    ['runbook #1 started', 10],
    ['runbook #1 finished (VerifyFailed)', 14.5],
    ['runbook #2 started', 16],
    ['runbook #2 finished (Recovered)', 19.3],
    ['closed (recovered)', 19.3],
  ]);
  const text = formatIncidentPhases({ incidents: { open: [], recent: [incident] } } as never);
  expect(text.split('\n').filter((l) => l !== '').every((l) => l.startsWith('#'))).toBe(true);
  expect(text).toContain('+  19.3 s  closed (recovered)  2026-11-25T00:00:19.250Z');
  expect(formatIncidentPhases({ incidents: { open: [], recent: [] } } as never)).toBe('');
});
