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
    {
      n: 2,
      startedAt: '2026-11-25T00:00:16.000Z',
      finishedAt: '2026-11-25T00:00:19.250Z',
      verdict: 'Recovered',
      steps: [
        { id: 'login', startedAt: '2026-11-25T00:00:16.000Z', finishedAt: '2026-11-25T00:00:16.400Z', outcome: 'ok' },
        { id: 'restart-httpd', startedAt: '2026-11-25T00:00:16.400Z', finishedAt: '2026-11-25T00:00:18.000Z', outcome: 'ok' },
        { id: 'confirm', startedAt: '2026-11-25T00:00:18.000Z', finishedAt: '2026-11-25T00:00:19.200Z', outcome: 'ok' },
      ],
      confirmedAt: '2026-11-25T00:00:19.100Z',
    },
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
    ['step login (ok), 0.4 s', 16],
    ['step restart-httpd (ok), 1.6 s', 16.4],
    ['step confirm (ok), 1.2 s', 18],
    ['outside probe confirmed the recovery', 19.1],
    ['runbook #2 finished (Recovered)', 19.3],
    ['Recovered', 19.3],
  ]);
  expect(phases.map((p) => p.kind)).toEqual(['first-failing-probe', 'confirmed-down', 'runbook-started', 'runbook-finished', 'runbook-started', 'step', 'step', 'step', 'recovery-confirmed', 'runbook-finished', 'closed']);
  expect(phases.find((p) => p.step?.id === 'restart-httpd')).toMatchObject({ attempt: 2, step: { outcome: 'ok', durationS: 1.6 } });
  const text = formatIncidentPhases({ incidents: { open: [], recent: [incident] } } as never);
  expect(text.split('\n').filter((l) => l !== '').every((l) => l.startsWith('#'))).toBe(true);
  expect(text).toContain('+  19.3 s  Recovered  2026-11-25T00:00:19.250Z');
  expect(text).toContain('+  16.4 s    step restart-httpd (ok), 1.6 s  2026-11-25T00:00:16.400Z');
  expect(formatIncidentPhases({ incidents: { open: [], recent: [] } } as never)).toBe('');
});
