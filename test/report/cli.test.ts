/**
 * `mamori report` on a state folder whose journal was written by the real journal (scripted
 * times: March 2026), with manifests giving contacts and a real SMTP server on the loopback:
 * Markdown/HTML/JSON carry the same figures as the pure computation, the e-mail reaches the
 * contact once (in Japanese, the contact's default), and the binary has the command registered.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReport, type ReportOptions } from '../../src/cli/report.ts';
import { computeMonthlyReport } from '../../src/report/compute.ts';
import type { MonthlyReport } from '../../src/report/types.ts';
import { openJournal, readJournal } from '../../src/status/journal.ts';
import { startSmtpSink, type SmtpSink } from '../notify/smtp-sink.ts';
import { BIN } from '../daemon/daemon-process.ts';
import { REPO_ROOT, serverPath, serverYaml } from '../source/git-fixture.ts';
import { scriptedJournal, T, withServerIds } from './scripted-journal.ts';

let dir: string;
let config: string;
let sink: SmtpSink;
const NOW = T('2026-04-02T00:00:00Z');

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mamori-report-'));
  const manifests = join(dir, 'manifests');
  cpSync(join(REPO_ROOT, 'manifests', 'operator'), join(manifests, 'operator'), { recursive: true });
  for (const [name, customer, services] of [['web1', 'acme', ['ping', 'http']], ['web2', 'acme', ['http']], ['other1', 'beta', ['http']]] as const) {
    mkdirSync(join(manifests, serverPath(name, customer), '..'), { recursive: true });
    writeFileSync(join(manifests, serverPath(name, customer)), serverYaml(name, { customer, services: [...services] }));
  }
  // The journal as the daemon writes it: the real journal, each record at its scripted time.
  const state = join(dir, 'state');
  const journal = await openJournal(state);
  for (const r of withServerIds(scriptedJournal())) {
    const { seq: _seq, ...entry } = r;
    await journal.append(entry);
  }
  await journal.close();
  sink = await startSmtpSink();
  config = join(dir, 'mamori.yaml');
  writeFileSync(
    config,
    `apiVersion: mamori/v1
kind: Config
source: { type: folder, path: ${manifests} }
stateDir: ${state}
secretsDir: ${join(dir, 'secrets')}
mail: { from: mamori@provider.example, timeZone: UTC, smtp: { host: 127.0.0.1, port: ${sink.port} } }
`,
  );
}, 60_000);

afterAll(async () => {
  await sink?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function report(o: Partial<ReportOptions>): Promise<{ code: number; out: string; err: string }> {
  const out = new Capture();
  const err = new Capture();
  const code = await runReport({ customer: 'acme', month: '2026-03', format: 'markdown', email: false, manifests: 'manifests', config, now: NOW, ...o }, { stdout: out, stderr: err, cwd: dir });
  return { code, out: out.text, err: err.text };
}

describe('mamori report', () => {
  it('JSON equals the pure computation over the journal on disk', async () => {
    const { code, out } = await report({ format: 'json' });
    expect(code).toBe(0);
    const json = JSON.parse(out) as MonthlyReport;
    const { records } = await readJournal(join(dir, 'state'));
    const direct = computeMonthlyReport({ records, customer: 'acme', month: '2026-03', now: NOW, desired: [] });
    expect(json.servers.map((s) => s.services)).toEqual(direct.servers.map((s) => s.services));
    expect(json.totals).toEqual(direct.totals);
    expect(json.servers.find((s) => s.name === 'acme/web1')?.contact).toEqual({ email: 'ops@acme.example' });
    expect(json.servers.find((s) => s.name === 'acme/web1')?.services.find((s) => s.service === 'http')?.upMs).toBe(2_665_680_000);
  });

  it('Markdown: availability to the second, incidents with TTR, actions, and how unknown is counted', async () => {
    const { code, out } = await report({});
    expect(code).toBe(0);
    expect(out).toContain('# Monthly report — acme — 2026-03');
    expect(out).toContain('| acme/web1 | http | 99.860 % | 30d 20h 28m 0s | 1h 2m 0s | 0s | 2h 30m 0s | 0s / 2h 30m 0s / 0s |');
    expect(out).toContain('| acme/web2 | http | 100.000 % | 21d 21h 29m 30s | 0s | 0s | 9d 2h 30m 30s | 9d 0h 0m 0s / 2h 30m 0s / 30s |');
    expect(out).toContain('| acme/web1 | host | 2026-03-12 03:00:10 UTC | 2026-03-12 03:15:00 UTC | 14m 50s | recovered | #1 VerifyFailed (1 power), #2 Recovered (1 power) |');
    expect(out).toContain('escalated (AttemptsExhausted)');
    expect(out).toContain('runbook `httpd-restart`');
    expect(out).toContain('- acme/web1 http (`inc-1`): +0.0 s first failing probe → +10.0 s confirmed Down → +11.0 s runbook #1 started → +11.0 s step login (ok), 1.5 s');
    expect(out).toContain('+99.0 s outside probe confirmed the recovery → +100.0 s runbook #1 finished (Recovered) → +120.0 s Recovered');
    expect(out).toContain('## How this is counted');
    expect(out).not.toContain('other1');
  });

  it('HTML is a standalone document with the same figures', async () => {
    const file = join(dir, 'acme.html');
    const { code } = await report({ format: 'html', output: file });
    expect(code).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('99.860 %');
    expect(html).toContain('14m 50s');
    expect(html).toContain('<h2>Time to recovery, phase by phase</h2>');
    expect(html).toContain('<td class="num">+99.0 s</td><td>outside probe confirmed the recovery</td>');
  });

  it('--email: one message to the contact, in Japanese, and not again on a second run', async () => {
    const first = await report({ email: true });
    expect(first.code).toBe(0);
    await sink.waitFor(1);
    expect(sink.rcpt[0]).toEqual(['ops@acme.example']);
    const mail = sink.messages[0];
    expect(mail?.subject).toBe('[mamori] 2026-03 月次レポート: acme');
    expect(mail?.text).toContain('HTTP (80/tcp) : 99.860 %');
    expect(mail?.text).toContain('acme/web2');
    const second = await report({ email: true });
    expect(second.err).toContain('already queued or sent');
    expect(sink.messages).toHaveLength(1);
  });

  it('refuses a month that is not YYYY-MM (usage, exit 2), and runs as `mamori report` from the binary', async () => {
    expect((await report({ month: '2026-3' })).code).toBe(2);
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'report', '--config', config, '--customer', 'acme', '--month', '2026-03', '--format', 'json'], { cwd: dir });
    const json = JSON.parse(stdout) as MonthlyReport;
    expect(json.totals.incidents).toBe(3);
  }, 60_000);
});
