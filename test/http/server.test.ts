import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { signHubBody } from '../../src/http/auth.ts';
import { MamoriMetrics } from '../../src/http/metrics.ts';
import { HttpServer, type DaemonApi } from '../../src/http/server.ts';
import { silentLogger } from '../../src/log.ts';
import { GRANTS, JSON_TYPE, OPERATOR, start } from './http-fixture.ts';
import { parsePrometheusText } from './prom-text.ts';

describe('http', () => {
  it('answers health, readiness and the status API on the loopback', async () => {
    const { base } = await start();
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(await ready.json()).toEqual({ ready: true, checks: { sourceSynced: true, lockHeld: true } });
    expect(await (await fetch(`${base}/api/status`)).json()).toMatchObject({ revision: 'abc' });
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/api/resume`)).status).toBe(405);
  });

  it('triggers a sync for a correctly signed webhook and refuses a bad signature with 401, changing nothing', async () => {
    const { base, calls } = await start({ webhookSecret: 'hook-secret-1' });
    const body = JSON.stringify({ ref: 'refs/heads/main', after: '0'.repeat(40) });
    const bad = await fetch(`${base}/hooks/git`, { method: 'POST', body, headers: { 'x-hub-signature-256': signHubBody('wrong', body) } });
    expect(bad.status).toBe(401);
    const missing = await fetch(`${base}/hooks/git`, { method: 'POST', body });
    expect(missing.status).toBe(401);
    const truncated = await fetch(`${base}/hooks/git`, { method: 'POST', body, headers: { 'x-hub-signature-256': signHubBody('hook-secret-1', body).slice(0, 20) } });
    expect(truncated.status).toBe(401);
    // Junk after the 64 hex digits (Buffer.from(hex) would stop there and accept it): refused.
    for (const junk of ['zz', '00', 'g', ',sha256=00']) {
      const r = await fetch(`${base}/hooks/git`, { method: 'POST', body, headers: { 'x-hub-signature-256': `${signHubBody('hook-secret-1', body)}${junk}` } });
      expect(r.status, JSON.stringify(junk)).toBe(401);
    }
    const prefixed = await fetch(`${base}/hooks/git`, { method: 'POST', body, headers: { 'x-hub-signature-256': `x${signHubBody('hook-secret-1', body)}` } });
    expect(prefixed.status).toBe(401);
    expect(calls.syncs).toBe(0);
    const good = await fetch(`${base}/hooks/git`, { method: 'POST', body, headers: { 'x-hub-signature-256': signHubBody('hook-secret-1', body) } });
    expect(good.status).toBe(202);
    expect(calls.syncs).toBe(1);
  });

  it('has no webhook without a secret', async () => {
    const { base, calls } = await start();
    const body = '{}';
    const r = await fetch(`${base}/hooks/git`, { method: 'POST', body, headers: { 'x-hub-signature-256': signHubBody('', body) } });
    expect(r.status).toBe(404);
    expect(calls.syncs).toBe(0);
  });

  it('the local API over TCP needs the operator token, as JSON', async () => {
    const { base, calls } = await start({ tokens: GRANTS });
    const body = JSON.stringify({ server: 'web01', service: 'http' });
    expect((await fetch(`${base}/api/resume`, { method: 'POST', body, headers: JSON_TYPE })).status).toBe(401);
    expect((await fetch(`${base}/api/resume`, { method: 'POST', body, headers: { ...JSON_TYPE, authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await fetch(`${base}/api/status`)).status).toBe(401);
    const ok = await fetch(`${base}/api/resume`, { method: 'POST', body, headers: { ...JSON_TYPE, authorization: `Bearer ${OPERATOR}` } });
    expect(ok.status).toBe(200);
    expect(calls.resumed).toEqual([['web01', 'http']]);
    const rec = await fetch(`${base}/api/reconcile`, { method: 'POST', body: '{"dryRun":true}', headers: { ...JSON_TYPE, authorization: `Bearer ${OPERATOR}` } });
    expect(await rec.json()).toEqual({ ok: true, result: { actions: [] } });
    const notHeld = await fetch(`${base}/api/confirm`, { method: 'POST', body: '{"revision":"0000000"}', headers: { ...JSON_TYPE, authorization: `Bearer ${OPERATOR}` } });
    expect(notHeld.status).toBe(409);
    expect(await notHeld.json()).toMatchObject({ code: 'MAMORI_DAEMON_NOT_HELD' });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('bounds request bodies and refuses bad JSON', async () => {
    const { base, calls } = await start({ maxBodyBytes: 1024, tokens: GRANTS });
    const auth = { ...JSON_TYPE, authorization: `Bearer ${OPERATOR}` };
    const big = await fetch(`${base}/api/resume`, { method: 'POST', body: 'x'.repeat(4096), headers: auth });
    expect(big.status).toBe(413);
    expect((await fetch(`${base}/api/resume`, { method: 'POST', body: '{nope', headers: auth })).status).toBe(400);
    expect((await fetch(`${base}/api/resume`, { method: 'POST', body: '{"server": 5}', headers: auth })).status).toBe(400);
    expect(calls.resumed).toEqual([]);
  });

  it('refuses to listen beyond the loopback without a token', () => {
    const api = {} as DaemonApi;
    expect(() => new HttpServer({ listen: '0.0.0.0:9750', api, metrics: new MamoriMetrics({ defaultMetrics: false }), logger: silentLogger() })).toThrow(
      expect.objectContaining({ code: 'MAMORI_HTTP_LISTEN_UNSAFE' }),
    );
  });

  it('serves /metrics as Prometheus text with bounded label sets', async () => {
    const { base, metrics } = await start();
    metrics.probeResult('http', true, 12);
    metrics.probeResult('http', false, 5000);
    metrics.probeResult('weird-type', 'unknown', 1);
    metrics.serviceStateChanged('web01', 'http', 'Healthy');
    metrics.serviceStateChanged('web01', 'http', 'Down');
    metrics.serviceStateChanged('web02', 'smtp', 'NotAState');
    metrics.remediation('http', 'recovered');
    metrics.remediation('ssh', 'some error string from a runbook');
    metrics.incidentOpened('host');
    metrics.passLate(1500);
    metrics.syncResult('ok');
    metrics.syncResult('SourceUnavailable');
    metrics.desiredState({ revision: 'rev-1', servers: 2, manifestInvalid: 1, held: true, refused: false });
    metrics.desiredState({ revision: 'rev-2', servers: 2, manifestInvalid: 0, held: false, refused: false });
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const families = parsePrometheusText(await res.text());
    const labelsOf = (name: string) => families.get(name)?.samples.map((s) => s.labels) ?? [];
    expect(families.get('mamori_probe_results_total')?.type).toBe('counter');
    expect(labelsOf('mamori_probe_results_total')).toEqual(
      expect.arrayContaining([
        { service_type: 'http', result: 'up' },
        { service_type: 'http', result: 'down' },
        { service_type: 'other', result: 'unknown' },
      ]),
    );
    const lateness = families.get('mamori_probe_lateness_seconds');
    expect(lateness?.type).toBe('histogram');
    expect(lateness?.samples.find((s) => s.labels.le === '1')?.value).toBe(0);
    expect(lateness?.samples.find((s) => s.labels.le === '2.5')?.value).toBe(1);
    const histogram = families.get('mamori_probe_duration_seconds');
    expect(histogram?.type).toBe('histogram');
    expect(new Set(histogram?.samples.map((s) => Object.keys(s.labels).sort().join(',')))).toEqual(new Set(['le,service_type', 'service_type']));
    // One series per server and service: the state moved, it did not add a series.
    expect(labelsOf('mamori_service_state')).toEqual([
      { server: 'web01', service: 'http', state: 'Down' },
      { server: 'web02', service: 'smtp', state: 'Unknown' },
    ]);
    expect(labelsOf('mamori_remediations_total')).toEqual(
      expect.arrayContaining([
        { service_type: 'http', outcome: 'recovered' },
        { service_type: 'ssh', outcome: 'other' },
      ]),
    );
    expect(labelsOf('mamori_source_revision_info')).toEqual([{ revision: 'rev-2' }]);
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    expect(families.get('mamori_build_info')?.samples).toEqual([
      { name: 'mamori_build_info', labels: { version, revision: 'unknown', flavour: 'source', nodeversion: process.versions.node }, value: 1 },
    ]);
    expect(families.get('mamori_source_sync_errors_total')?.samples).toEqual([{ name: 'mamori_source_sync_errors_total', labels: { reason: 'SourceUnavailable' }, value: 1 }]);
    expect(families.get('mamori_incidents_opened_total')?.samples[0]?.labels).toEqual({ service_type: 'host' });
    for (const name of ['mamori_servers_desired', 'mamori_source_revision_held', 'mamori_mass_failure_paused', 'mamori_incidents_open']) {
      expect(families.has(name), name).toBe(true);
    }
    // No label anywhere carries an id, an address or free text.
    const allowed = new Set(['service_type', 'result', 'server', 'service', 'state', 'outcome', 'revision', 'reason', 'le', 'quantile', 'version', 'major', 'minor', 'patch', 'space', 'kind', 'type', 'flavour', 'nodeversion']);
    for (const family of families.values()) for (const s of family.samples) for (const l of Object.keys(s.labels)) expect(allowed.has(l), `${s.name}{${l}}`).toBe(true);
  });
});
