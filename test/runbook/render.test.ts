import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { isMamoriError } from '../../src/errors.ts';
import type { RunbookDocument } from '../../src/manifest/types.ts';
import { renderRunbook } from '../../src/runbook/render.ts';
import { selectRunbook } from '../../src/runbook/select.ts';
import { shellQuote } from '../../src/runbook/shell-quote.ts';
import { server, standardRunbooks } from './operator-docs.ts';

function custom(name: string, steps: RunbookDocument['spec']['steps'], extra: Partial<RunbookDocument['spec']> = {}, customer = 'acme'): RunbookDocument {
  return { apiVersion: 'mamori/v1', kind: 'Runbook', metadata: { name, customer }, spec: { services: ['http'], steps, ...extra } };
}

describe('shellQuote', () => {
  test.each([
    ['httpd', 'httpd'],
    ['203.0.113.10', '203.0.113.10'],
    ['2001:db8::1', '2001:db8::1'],
    ['', "''"],
    ['a b', "'a b'"],
    ["it's", "'it'\\''s'"],
    ['$(reboot)', "'$(reboot)'"],
    ['`id`', "'`id`'"],
    ['x;rm -rf /', "'x;rm -rf /'"],
  ])('%j → %s', (value, quoted) => {
    expect(shellQuote(value)).toBe(quoted);
  });

  test('a quoted value reaches the command as exactly itself, whatever it holds', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0')), (value) => {
        const out = execFileSync('/bin/sh', ['-c', `printf %s ${shellQuote(value)}`]);
        expect(out.toString('utf8')).toBe(Buffer.from(value, 'utf8').toString('utf8'));
      }),
      { numRuns: 60 },
    );
  });
});

describe('renderRunbook', () => {
  const base = server({ family: 'centos', version: '5.4' });

  test('defaults: step ids, 60 s per step, 300 s per runbook, verify within 30 s', () => {
    const rb = custom('acme-httpd', [{ check: { process: '{{service.process}}' } }, { run: { command: 'true' } }, { verify: {} }]);
    const r = renderRunbook(base, 'http', rb);
    expect(r).toEqual({
      runbook: 'acme-httpd',
      origin: 'custom',
      server: 'web01',
      service: 'http',
      address: '203.0.113.10',
      deadlineMs: 300_000,
      steps: [
        { kind: 'check', id: 'check-1', deadlineMs: 60_000, process: 'httpd' },
        { kind: 'run', id: 'run-2', deadlineMs: 60_000, command: 'true', sudo: true, onFailure: 'stop' },
        { kind: 'verify', id: 'verify-3', deadlineMs: 60_000, probe: true, waitFor: [], withinMs: 30_000 },
      ],
    });
  });

  test('placeholders are substituted shell-quoted in commands, plain in prose', () => {
    const srv = server({ family: 'centos', version: '5.4' }, { services: [{ http: { port: 8080, process: 'apache2' } }] }, 'web-01');
    const rb = custom('acme-httpd', [
      { description: 'restart {{service.process}} on {{ server.name }}', run: { command: 'logger -t mamori {{server.name}} {{server.address}} {{service.name}} {{service.port}} {{service.process}}' } },
      { check: { localConnect: {}, process: '{{service.process}}' } },
      { escalate: { reason: 'ManualCheckRequired', message: '{{service.name}} on {{server.name}} needs a person' } },
    ]);
    const r = renderRunbook(srv, 'http', rb);
    expect(r.steps[0]).toMatchObject({ description: 'restart apache2 on web-01', command: 'logger -t mamori web-01 203.0.113.10 http 8080 apache2' });
    expect(r.steps[1]).toMatchObject({ localConnectPort: 8080, process: 'apache2' });
    expect(r.steps[2]).toMatchObject({ message: 'http on web-01 needs a person' });
  });

  test('the process: the server option, else the runbook, else the service default', () => {
    const rb = (process?: string): RunbookDocument =>
      custom('x', [{ check: { process: '{{service.process}}' } }], { services: ['smtp'], ...(process === undefined ? {} : { process }) });
    expect(renderRunbook(base, 'smtp', rb()).steps[0]).toMatchObject({ process: 'sendmail' });
    expect(renderRunbook(base, 'smtp', rb('master')).steps[0]).toMatchObject({ process: 'master' });
    const srv = server({ family: 'centos', version: '5.4' }, { services: [{ smtp: { process: 'exim' } }] });
    expect(renderRunbook(srv, 'smtp', rb('master')).steps[0]).toMatchObject({ process: 'exim' });
  });

  test('the ssh port follows access.port unless the service sets one', () => {
    const srv = server({ family: 'centos', version: '5.4' }, { access: { user: 'mamori', port: 2222, hostKey: `SHA256:${'A'.repeat(43)}`, credentials: { secretRef: 'x' } } });
    const rb = custom('x', [{ check: { localConnect: {} } }], { services: ['ssh'] });
    expect(renderRunbook(srv, 'ssh', rb).steps[0]).toMatchObject({ localConnectPort: 2222 });
  });

  test('an unknown placeholder, or one without a value, cannot render', () => {
    const unknown = custom('x', [{ run: { command: 'echo {{server.password}}' } }]);
    expect(() => renderRunbook(base, 'http', unknown)).toThrow(/unknown placeholder \{\{server.password\}\}/);
    const noPort = custom('x', [{ run: { command: 'echo {{service.port}}' } }], { services: ['ping'] });
    try {
      renderRunbook(base, 'ping', noPort);
      expect.unreachable();
    } catch (err) {
      expect(isMamoriError(err, 'MAMORI_RUNBOOK_UNRENDERABLE')).toBe(true);
      expect(String(err)).toMatch(/step 1: \{\{service.port\}\} has no value for ping/);
    }
  });

  test('the SSL pass phrase answer is kept only for a server that has the secret (standard runbooks)', () => {
    const std = standardRunbooks();
    const without = selectRunbook(base, 'https', std);
    if ('error' in without) throw new Error(without.error);
    const plain = renderRunbook(base, 'https', without.runbook, without.origin).steps.find((s) => s.kind === 'run');
    expect(plain).toEqual(expect.not.objectContaining({ answer: expect.anything() }));
    const withSecret = server({ family: 'centos', version: '5.4' }, { secrets: { sslPassphrase: { secretRef: 'acme-web01-ssl' } } });
    const answered = renderRunbook(withSecret, 'https', without.runbook, 'standard').steps.find((s) => s.kind === 'run');
    expect(answered).toMatchObject({ command: '/etc/init.d/httpd restart', answer: { prompt: 'Enter pass phrase:', secretKey: 'sslPassphrase' } });
    const customRb = custom('x', [{ run: { command: 'true', answer: { prompt: 'Pass:', secret: 'other' } } }]);
    expect(renderRunbook(base, 'http', customRb).steps[0]).toMatchObject({ answer: { prompt: 'Pass:', secretKey: 'other' } });
  });

  test('a long verify gets a deadline that lets it wait', () => {
    const rb = custom('x', [{ verify: { withinSeconds: 600 } }]);
    expect(renderRunbook(base, 'http', rb).steps[0]).toMatchObject({ withinMs: 600_000, deadlineMs: 630_000 });
  });
});

describe('selectRunbook', () => {
  const std = standardRunbooks();
  const mine = custom('acme-httpd', [{ run: { command: 'true' } }]);
  const theirs = custom('acme-httpd', [{ run: { command: 'false' } }], {}, 'other');

  test("the customer's own runbook when the server names it", () => {
    const srv = server({ family: 'centos', version: '5.4' }, { runbooks: { http: 'acme-httpd' } });
    const picked = selectRunbook(srv, 'http', [...std, theirs, mine]);
    expect(picked).toMatchObject({ origin: 'custom', runbook: mine });
    // Other services keep the standard one.
    expect(selectRunbook(srv, 'https', [...std, mine])).toMatchObject({ origin: 'standard', runbook: { metadata: { name: 'std-httpd-el-sysv' } } });
  });

  test("another customer's runbook of the same name is never picked", () => {
    const srv = server({ family: 'centos', version: '5.4' }, { runbooks: { http: 'acme-httpd' } });
    expect(selectRunbook(srv, 'http', [...std, theirs])).toEqual({
      error: 'runbook "acme-httpd" named for http is not a runbook of customer acme nor a standard runbook',
    });
  });

  test('a named runbook must repair that service', () => {
    const srv = server({ family: 'centos', version: '5.4' }, { runbooks: { ftp: 'acme-httpd' } });
    expect(selectRunbook(srv, 'ftp', [mine])).toEqual({ error: 'runbook "acme-httpd" does not repair ftp (its services: http)' });
  });

  test('a customer may name a standard runbook explicitly', () => {
    const srv = server({ family: 'centos', version: '7.9' }, { runbooks: { smtp: 'std-sendmail-el-5' } });
    expect(selectRunbook(srv, 'smtp', std)).toMatchObject({ origin: 'standard', runbook: { metadata: { name: 'std-sendmail-el-5' } } });
  });

  test('the most specific standard runbook wins, whatever the order', () => {
    const wide: RunbookDocument = { ...custom('wide', [{ run: { command: 'wide' } }]), metadata: { name: 'wide' } };
    wide.spec.appliesTo = [{ family: 'rhel' }];
    const variant: RunbookDocument = { ...custom('variant', [{ run: { command: 'variant' } }]), metadata: { name: 'variant' } };
    variant.spec.appliesTo = [{ family: 'rhel', variant: 'server' }];
    const narrow: RunbookDocument = { ...custom('narrow', [{ run: { command: 'narrow' } }]), metadata: { name: 'narrow' } };
    narrow.spec.appliesTo = [{ family: 'rhel', variant: 'server', minVersion: '5', belowVersion: '6' }];
    const srv = server({ family: 'rhel', variant: 'server', version: '5.10' });
    for (const order of [[wide, variant, narrow], [narrow, variant, wide], [variant, narrow, wide]]) {
      expect(selectRunbook(srv, 'http', order)).toMatchObject({ runbook: { metadata: { name: 'narrow' } } });
    }
    expect(selectRunbook(server({ family: 'rhel', variant: 'server', version: '6' }), 'http', [wide, variant, narrow])).toMatchObject({ runbook: { metadata: { name: 'variant' } } });
    expect(selectRunbook(server({ family: 'rhel', variant: 'es', version: '4' }), 'http', [narrow, variant, wide])).toMatchObject({ runbook: { metadata: { name: 'wide' } } });
  });
});
