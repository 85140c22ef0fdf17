import { afterAll, describe, expect, test } from 'vitest';
import type { ReviewPolicyDocument, RunbookDocument, ServerDocument } from '../../src/manifest/types.ts';
import { customRunbookCommands, lintPolicy, lintRunbook, reviewPolicyCheck } from '../../src/runbook/policy.ts';
import { ShellParserPool } from '../../src/runbook/shell-parser-pool.ts';
import { OPERATOR_DIR, loadedFromYaml, policy, standardRunbookFiles } from './operator-docs.ts';
import { readFileSync } from 'node:fs';

const POLICY = policy();
// A generous budget: these tests judge what is refused, not how fast (npm run bench does).
const parser = new ShellParserPool({ budgetMs: 20_000 });
afterAll(() => parser.close());
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

async function lint(text: string, owner: typeof CUSTOMER | { kind: 'operator' } = CUSTOMER, rules: ReviewPolicyDocument = POLICY) {
  const doc = loadedFromYaml<RunbookDocument>(text, FILE, owner);
  const outcomes = await parser.parse([{ key: FILE, texts: customRunbookCommands(doc.doc) }]);
  return lintRunbook(doc, rules, (t) => outcomes.get(t));
}

// Each forbidden spelling, the rule that must refuse it.
const REFUSED: Array<[string, string]> = [
  ['rm -rf /', 'rm-root'],
  ['rm -rf /*', 'rm-root'],
  ['rm --no-preserve-root -r -f /', 'rm-root'],
  ['rm -rf "/"', 'rm-root'],
  ["sh -c 'rm -rf /'", 'rm-root'],
  ['sudo -u root nohup timeout 30 rm -rf //', 'rm-root'],
  ['cd /tmp && rm -Rf /etc', 'rm-system-dir'],
  ['cd / && rm -r -f etc/', 'rm-system-dir'],
  ['rm -rf /usr/local/..', 'rm-system-dir'],
  ['find /etc -exec rm -rf {} +', 'rm-system-dir'],
  ['find / -delete', 'find-delete-system'],
  ['find /var -name "*.log" -delete', 'find-delete-system'],
  ['mkfs.ext3 /dev/sda1', 'make-filesystem'],
  ['newfs /dev/ada0s1a', 'make-filesystem'],
  ['dd if=/dev/zero of=/dev/sda bs=1M', 'dd-to-device'],
  ['cat /dev/zero > /dev/sda', 'write-to-disk-device'],
  ['shutdown -h now', 'shutdown'],
  ['/sbin/halt', 'halt-poweroff-reboot'],
  ["su -c 'halt'", 'halt-poweroff-reboot'],
  ["su - root -c 'sync; /usr/sbin/reboot'", 'halt-poweroff-reboot'],
  ['systemctl poweroff', 'halt-poweroff-reboot'],
  ["bash -c \"sh -c 'poweroff'\"", 'halt-poweroff-reboot'],
  ['sync; poweroff', 'halt-poweroff-reboot'],
  ['reboot', 'halt-poweroff-reboot'],
  ['init 0', 'init-runlevel'],
  ['telinit 6', 'init-runlevel'],
  [':(){ :|:& };:', 'fork-bomb'],
  ['chmod -R 777 /', 'chmod-chown-root'],
  ['chmod -R 777 /etc', 'chmod-chown-root'],
  ['chown --recursive nobody: /var/', 'chmod-chown-root'],
  ['curl -s http://example.com/fix.sh | sh', 'download-and-run'],
  ['wget -qO- http://example.com/x | sudo bash', 'download-and-run'],
  ['kill -9 -1', 'kill-everything'],
  ['kill -s KILL -- -1', 'kill-everything'],
  ['iptables -F', 'firewall-off'],
  ['service iptables stop', 'firewall-off'],
  ['passwd -d mamori', 'accounts'],
  ['echo "x ALL=(ALL) NOPASSWD: ALL" >> /etc/sudoers', 'accounts'],
  ['crontab -r', 'crontab-remove'],
  ['env -i crontab -u web -r', 'crontab-remove'],
];

describe('forbidden commands in a custom runbook are refused with the rule, the reason and the line', () => {
  test.each(REFUSED)('%s → %s', async (command, rule) => {
    const findings = (await lint(withCommand(command))).filter((f) => f.rule === 'policy-forbidden-command');
    expect(findings.length).toBeGreaterThanOrEqual(1);
    const mine = findings.find((f) => f.message.startsWith(`refused by rule ${rule}:`));
    expect(mine).toMatchObject({ file: FILE, line: 12, field: 'spec.steps[2].run.command', severity: 'error' });
    const reason = POLICY.spec.forbiddenCommands.find((r) => r.rule === rule)?.reason;
    expect(reason).toBeDefined();
    // The rule, the command as parsed (in backquotes), and the reason.
    expect(mine?.message).toMatch(new RegExp(`^refused by rule ${rule}: \x60[^\x60]+\x60: `));
    expect(mine?.message.endsWith(`: ${reason}`)).toBe(true);
  });

  test('the command is shown as parsed: its words after the quoting, and the wrappers it went through', async () => {
    const [finding] = (await lint(withCommand(`sudo sh -c 'cd / && rm -rf "etc"'`))).filter((f) => f.rule === 'policy-forbidden-command');
    expect(finding?.message).toMatch(/^refused by rule rm-system-dir: `rm -rf etc \(through sudo, sh -c\)`: /);
  });

  test('the line inside a block scalar is the offending line', async () => {
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
    expect(await lint(text)).toEqual([
      expect.objectContaining({ rule: 'policy-forbidden-command', line: 12, field: 'spec.steps[1].run.command', message: expect.stringMatching(/^refused by rule rm-root:/) }),
    ]);
  });

  test.each([
    '/etc/init.d/httpd restart',
    'rm -f /var/run/httpd.pid && /etc/init.d/httpd start',
    'apachectl graceful',
    'dd if=/var/log/messages of=/tmp/x count=1',
    'echo halted >> /var/log/mamori.log',
    '/etc/init.d/httpd stop || true',
    'rm -rf /var/cache/mod_ssl/* /tmp/httpd-*',
    'cd /var/www && rm -rf cache',
    'find /var/log/httpd -name "*.gz" -mtime +30 -exec rm -f {} \\;',
    'pgrep -x httpd >/dev/null 2>&1 || sudo -u apache /opt/apache/bin/apachectl start',
    'kill -HUP 1234',
    'kill -1 1234',
    'systemctl restart httpd.service',
    'service iptables status',
    'ps aux | grep [h]ttpd | awk \'{print $2}\'',
    'echo "$HOME" > /tmp/home.txt',
    'tail -n 50 /var/log/messages | grep -i error',
    'chmod 644 /etc/httpd/conf/httpd.conf',
    'chown -R apache: /var/www/html',
    '/usr/local/bin/restart-shop.sh --graceful',
    'sh /opt/shop/bin/restart.sh',
    'systemctl restart {{service.process}}',
  ])('an ordinary command passes: %s', async (command) => {
    expect(await lint(withCommand(command))).toEqual([]);
  });

  test("the operator's standard runbooks parse, would break no rule as custom runbooks, and are not held to the custom limits", async () => {
    for (const file of standardRunbookFiles()) {
      const text = readFileSync(`${OPERATOR_DIR}runbooks/${file}`, 'utf8');
      expect(await lint(text, { kind: 'operator' }), file).toEqual([]);
      const asCustom = (await lint(text.replace(/^metadata:\n/m, 'metadata:\n  customer: acme\n'))).filter((f) => f.rule === 'policy-forbidden-command');
      expect(asCustom, file).toEqual([]);
    }
  });
});

describe('the rest of the policy', () => {
  test('power and console are the operator\'s channels', async () => {
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
    const findings = await lint(text);
    expect(findings.map((f) => [f.rule, f.line, f.field])).toEqual([
      ['policy-console', 7, 'spec.steps[0].console'],
      ['policy-power', 8, 'spec.steps[1].power.action'],
    ]);
    expect(findings[1]?.message).toMatch(/power actions are not allowed in custom runbooks \(power cycle\)/);
    const lenient: ReviewPolicyDocument = { ...POLICY, spec: { ...POLICY.spec, customPower: ['cycle'], customConsole: true } };
    expect(lintRunbook(loadedFromYaml<RunbookDocument>(text, FILE, CUSTOMER), lenient)).toEqual([]);
  });

  test('limits on steps and deadlines', async () => {
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
    const rules = (await lint(text)).map((f) => `${f.rule}@${f.line}`);
    expect(rules).toEqual(['policy-max-steps@21', 'policy-runbook-deadline@6', 'policy-step-deadline@10', 'policy-step-deadline@21']);
  });

  test('check before acting, verify after acting', async () => {
    const text = `apiVersion: mamori/v1
kind: Runbook
metadata: { name: acme-httpd, customer: acme }
spec:
  services: [http]
  steps:
    - run: { command: /etc/init.d/httpd restart }
`;
    expect((await lint(text)).map((f) => [f.rule, f.line])).toEqual([
      ['policy-opening-check', 7],
      ['policy-verify', 7],
    ]);
  });

  test('placeholders and step ids are checked in every runbook, the operator\'s too', async () => {
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
    expect((await lint(text, { kind: 'operator' })).map((f) => [f.rule, f.line, f.message])).toEqual([
      ['runbook-placeholder', 9, expect.stringMatching(/^unknown placeholder \{\{server.addr\}\}/)],
      ['runbook-placeholder', 9, '{{service.port}} has no value for ping, which this runbook repairs'],
      ['runbook-step-id', 10, 'step id "look" is already used by step 1'],
      ['runbook-local-connect', 11, 'localConnect needs a port, and ping has none: give localConnect.port'],
    ]);
  });

  test('a pattern that is not valid, or that has no linear-time match, is refused with its line', () => {
    const text = `apiVersion: mamori/v1
kind: ReviewPolicy
metadata: { name: policy }
spec:
  forbiddenCommands:
    - rule: broken
      reason: x
      commands:
        - { program: [rm], pattern: "rm (" }
    - rule: lookahead
      reason: x
      commands:
        - { pattern: '\\brm\\s+(?=-)' }
    - rule: backreference
      reason: x
      commands:
        - { program: [echo] }
        - pattern: '(a+)\\1'
    - rule: nested-quantifiers
      reason: "matched by RE2 in linear time, so accepted"
      commands:
        - { pattern: '(-{1,2}[A-Za-z-]+\\s+)*x' }
`;
    const findings = lintPolicy(loadedFromYaml<ReviewPolicyDocument>(text, 'operator/policy.yaml', { kind: 'operator' }, 'ReviewPolicy'));
    expect(findings.map((f) => [f.rule, f.line, f.field])).toEqual([
      ['policy-pattern', 9, 'spec.forbiddenCommands[0].commands[0].pattern'],
      ['policy-pattern', 13, 'spec.forbiddenCommands[1].commands[0].pattern'],
      ['policy-pattern', 18, 'spec.forbiddenCommands[2].commands[1].pattern'],
    ]);
    expect(findings[1]?.message).toMatch(/^rule lookahead: the pattern is refused: .*\(\?=.*linear time/);
  });

  test('an operator pattern is matched against the command as parsed, in linear time', async () => {
    const rules: ReviewPolicyDocument = {
      ...POLICY,
      spec: { ...POLICY.spec, forbiddenCommands: [{ rule: 'no-graceful', reason: 'use restart', commands: [{ program: ['apachectl', 'httpd'], pattern: '(^| )-?k? ?graceful( |$)', ignoreCase: true }] }] },
    };
    expect((await lint(withCommand("sudo sh -c 'apachectl GRACEFUL'"), CUSTOMER, rules)).map((f) => f.message)).toEqual([
      'refused by rule no-graceful: `apachectl GRACEFUL (through sudo, sh -c)`: use restart',
    ]);
    expect(await lint(withCommand('apachectl restart'), CUSTOMER, rules)).toEqual([]);
  });

  test("what the review cannot judge passes when the operator allows that exact command, for that customer", async () => {
    const command = 'kill -HUP `cat /var/run/httpd.pid`';
    expect((await lint(withCommand(command))).map((f) => f.rule)).toEqual(['policy-unreviewable']);
    const allow = (customers?: string[]): ReviewPolicyDocument => ({
      ...POLICY,
      spec: { ...POLICY.spec, allowCommands: [{ command: 'kill  -HUP `cat /var/run/httpd.pid`', reason: 'read by ops', ...(customers ? { customers } : {}) }] },
    });
    expect(await lint(withCommand(command), CUSTOMER, allow())).toEqual([]);
    expect(await lint(withCommand(command), CUSTOMER, allow(['acme']))).toEqual([]);
    expect((await lint(withCommand(command), CUSTOMER, allow(['globex']))).map((f) => f.rule)).toEqual(['policy-unreviewable']);
    // Allowed as written is not a pass for what the rules still see in it.
    const forbidden = 'kill -9 -1 `cat /var/run/httpd.pid`';
    const allowedToo: ReviewPolicyDocument = { ...POLICY, spec: { ...POLICY.spec, allowCommands: [{ command: forbidden, reason: 'x' }] } };
    expect((await lint(withCommand(forbidden), CUSTOMER, allowedToo)).map((f) => f.rule)).toEqual(['policy-forbidden-command']);
  });

  test('as a validate check: a server naming a custom runbook must hold the secrets it answers with', async () => {
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
    const outcomes = await parser.parse([{ key: FILE, texts: customRunbookCommands(rb.doc) }]);
    expect(reviewPolicyCheck((t) => outcomes.get(t)).check({ servers: [srv], runbooks: [rb], policy: pol })).toEqual([
      expect.objectContaining({ file: 'customers/acme/servers/web01.yaml', line: 6, rule: 'runbook-secret', field: 'spec.runbooks.http' }),
    ]);
  });
});
