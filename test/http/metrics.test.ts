/**
 * The per server and service families (mamori_probe_success, mamori_probe_last_timestamp_seconds,
 * mamori_service_state) are kept by MamoriMetrics itself and written at scrape time: the text must
 * read as prom-client's did — every family declared even with no series, label values escaped,
 * an unknown result leaving the probe series alone, a removed server's series gone.
 */
import { describe, expect, it } from 'vitest';
import { MamoriMetrics } from '../../src/http/metrics.ts';
import { parsePrometheusText } from './prom-text.ts';

const PER_SERVER = ['mamori_probe_success', 'mamori_probe_last_timestamp_seconds', 'mamori_service_state'];

describe('MamoriMetrics per server and service', () => {
  it('declares the families with no series yet, and every other family once', async () => {
    const text = await new MamoriMetrics({ defaultMetrics: false }).text();
    const families = parsePrometheusText(text);
    for (const name of PER_SERVER) {
      expect(families.get(name)?.type, name).toBe('gauge');
      expect(families.get(name)?.samples).toEqual([]);
    }
    const declared = text.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(new Set(declared).size).toBe(declared.length);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('shows the newest verdict and time per service, states moved not added, and drops a removed server', async () => {
    const m = new MamoriMetrics({ defaultMetrics: false });
    const before = Date.now() / 1000;
    m.probeResult('http', true, 12, 'acme/web01');
    m.probeResult('ssh', false, 3000, 'acme/web01');
    m.probeResult('http', false, 5000, 'acme/web02');
    m.probeResult('http', true, 9, 'acme/web02');
    // No verdict: the series stay as they were (and a service only ever unknown has none).
    m.probeResult('http', 'unknown', 1, 'acme/web02');
    m.probeResult('smtp', 'unknown', 1, 'acme/web02');
    m.serviceStateChanged('acme/web01', 'http', 'Healthy');
    m.serviceStateChanged('acme/web01', 'ssh', 'Suspect');
    m.serviceStateChanged('acme/web01', 'ssh', 'Down');
    m.serviceStateChanged('acme/web02', 'http', 'NotAState');
    const families = parsePrometheusText(await m.text());
    const samples = (name: string): Array<Record<string, string | number>> => families.get(name)?.samples.map((s) => ({ ...s.labels, value: s.value })) ?? [];
    expect(samples('mamori_probe_success')).toEqual([
      { server: 'acme/web01', service: 'http', value: 1 },
      { server: 'acme/web01', service: 'ssh', value: 0 },
      { server: 'acme/web02', service: 'http', value: 1 },
    ]);
    const last = samples('mamori_probe_last_timestamp_seconds');
    expect(last.map((s) => `${s.server}/${s.service}`)).toEqual(['acme/web01/http', 'acme/web01/ssh', 'acme/web02/http']);
    for (const s of last) {
      expect(s.value as number).toBeGreaterThanOrEqual(before - 1e-3);
      expect(s.value as number).toBeLessThanOrEqual(Date.now() / 1000 + 1e-3);
    }
    expect(samples('mamori_service_state')).toEqual([
      { server: 'acme/web01', service: 'http', state: 'Healthy', value: 1 },
      { server: 'acme/web01', service: 'ssh', state: 'Down', value: 1 },
      { server: 'acme/web02', service: 'http', state: 'Unknown', value: 1 },
    ]);
    // The probe counter and histogram are per type, never per server.
    expect(families.get('mamori_probe_results_total')?.samples.map((s) => [s.labels, s.value])).toEqual(
      expect.arrayContaining([
        [{ service_type: 'http', result: 'up' }, 2],
        [{ service_type: 'http', result: 'down' }, 1],
        [{ service_type: 'http', result: 'unknown' }, 1],
        [{ service_type: 'ssh', result: 'down' }, 1],
        [{ service_type: 'smtp', result: 'unknown' }, 1],
      ]),
    );
    expect(families.get('mamori_probe_duration_seconds')?.samples.find((s) => s.name === 'mamori_probe_duration_seconds_count' && s.labels.service_type === 'http')?.value).toBe(4);

    m.serverRemoved('acme/web01');
    const after = parsePrometheusText(await m.text());
    for (const name of PER_SERVER) expect(after.get(name)?.samples.every((s) => s.labels.server === 'acme/web02'), name).toBe(true);
    expect(after.get('mamori_service_state')?.samples).toHaveLength(1);
  });

  it('a large fleet is written in pieces with pauses between servers, and the pieces read as one exposition', async () => {
    const m = new MamoriMetrics({ defaultMetrics: false });
    for (let i = 0; i < 1_200; i++) {
      m.probeResult('http', true, 5, `c${i % 9}/s${i}`);
      m.probeResult('ssh', i % 2 === 0, 5, `c${i % 9}/s${i}`);
      m.serviceStateChanged(`c${i % 9}/s${i}`, 'http', 'Healthy');
    }
    const pieces = [...(await m.pieces())];
    // Three per-server families of 1,200 servers: a pause after every 500 servers of each.
    expect(pieces.filter((p) => p === null)).toHaveLength(3 * 2);
    const text = pieces.filter((p) => p !== null).join('');
    expect(text).toBe(await m.text());
    const families = parsePrometheusText(text);
    expect(families.get('mamori_probe_success')?.samples).toHaveLength(2_400);
    expect(families.get('mamori_probe_last_timestamp_seconds')?.samples).toHaveLength(2_400);
    expect(families.get('mamori_service_state')?.samples).toHaveLength(1_200);
    expect(families.get('mamori_probe_success')?.samples.filter((s) => s.value === 0)).toHaveLength(600);
    expect(text.split('\n').filter((l) => l.startsWith('# TYPE ')).length).toBe(new Set(text.split('\n').filter((l) => l.startsWith('# TYPE '))).size);
  });

  it('escapes what a label value may not carry as it is', async () => {
    const m = new MamoriMetrics({ defaultMetrics: false });
    const odd = 'we"ird\\name\nx';
    m.probeResult('ping', true, 1, odd);
    m.serviceStateChanged(odd, 'ping', 'Healthy');
    const text = await m.text();
    expect(text).toContain('server="we\\"ird\\\\name\\nx"');
    const families = parsePrometheusText(text);
    expect(families.get('mamori_probe_success')?.samples[0]?.labels.server).toBe(odd);
    expect(families.get('mamori_service_state')?.samples[0]?.labels).toEqual({ server: odd, service: 'ping', state: 'Healthy' });
  });
});
