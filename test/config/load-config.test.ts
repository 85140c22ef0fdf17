/**
 * The daemon config: defaults filled in and frozen, relative paths from the file's
 * folder, and a bad file refused with every finding named (file, line, field).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfigText, defaultConfig, loadConfig } from '../../src/config/load-config.ts';
import { DEFAULT_TARGET_NETWORKS } from '../../src/config/defaults.ts';
import { MamoriError } from '../../src/errors.ts';
import type { Finding } from '../../src/manifest/types.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mamori-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('loadConfig', () => {
  test('without a file: the embedded defaults, every field filled, frozen deep', async () => {
    const c = await loadConfig(undefined, { cwd: '/srv/mamori' });
    expect(c.configFile).toBeUndefined();
    expect(c.source).toEqual({ type: 'folder', path: '/srv/mamori/manifests', debounceMs: 300 });
    expect(c.stateDir).toBe('/srv/mamori/state');
    expect(c.secretsDir).toBe('/srv/mamori/secrets');
    expect(c.managementNetworks).toEqual(['210.224.172.0/24', '210.188.224.0/24']);
    expect(c.targetNetworks).toEqual([...DEFAULT_TARGET_NETWORKS]);
    expect(c.probe).toEqual({ intervalSeconds: 30, timeoutSeconds: 5, retryIntervalSeconds: 1, failuresToDown: 3, jitter: 0.1, concurrency: 512 });
    expect(c.remediation).toEqual({
      concurrency: 4,
      restartsPerServicePerHour: 3,
      powerCyclesPerServerPer6h: 1,
      attemptsPerIncident: 2,
      destructiveWaitSeconds: 30,
      flapping: { transitions: 6, windowMinutes: 30 },
    });
    expect(c.massFailure).toEqual({ minServers: 3, fraction: 0.5, fleetFraction: 0.2, powerActionsPerHour: 10, canaries: [] });
    expect(c.consoleProfiles).toEqual({ manual: { driver: 'manual' } });
    expect(c.http).toEqual({ listen: '127.0.0.1:9750', tokens: [], publicHosts: [], socket: join(c.stateDir, 'mamori.sock'), socketMode: '0600' });
    expect(c.mail).toEqual({ from: 'mamori@localhost', fromName: 'mamori', providerName: {}, timeZone: 'Asia/Tokyo', maxPerServerPerHour: 4 });
    expect(c.signing).toBeUndefined();
    expect(c.statusWriteBack).toBeUndefined();
    expect(c.holds).toEqual({ maxRemovedFraction: 0.2, holdRollbacks: true });
    expect(c.log).toEqual({ level: 'info', pretty: undefined });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.probe)).toBe(true);
    expect(Object.isFrozen(c.targetNetworks)).toBe(true);
    expect(() => {
      (c.probe as { intervalSeconds: number }).intervalSeconds = 1;
    }).toThrow(TypeError);
  });

  test('a file: its values over the defaults, relative paths from its folder', async () => {
    const p = write(
      'ok.yaml',
      `apiVersion: mamori/v1
kind: Config
source: { type: git, url: /srv/git/manifests.git, credentials: { secretRef: git-deploy } }
stateDir: var/state
targetNetworks: [203.0.113.0/24]
probe: { intervalSeconds: 10 }
remediation: { flapping: { transitions: 4 } }
mail: { smtp: { host: smtp.example, auth: { secretRef: smtp-auth } } }
statusWriteBack: {}
consoleProfiles:
  dc1: { driver: ipmi }
`,
    );
    const c = await loadConfig(p);
    expect(c.configFile).toBe(p);
    expect(c.source).toEqual({ type: 'git', url: '/srv/git/manifests.git', ref: 'main', path: '', pollSeconds: 60, cacheDir: join(dir, 'var/state/git'), credentials: { secretRef: 'git-deploy' } });
    expect(c.stateDir).toBe(join(dir, 'var/state'));
    expect(c.targetNetworks).toEqual(['203.0.113.0/24']);
    expect(c.probe.intervalSeconds).toBe(10);
    expect(c.probe.timeoutSeconds).toBe(5);
    expect(c.remediation.destructiveWaitSeconds).toBe(10);
    expect(c.remediation.flapping).toEqual({ transitions: 4, windowMinutes: 30 });
    expect(c.mail.smtp).toEqual({ host: 'smtp.example', port: 587, secure: false, requireTLS: false, auth: { secretRef: 'smtp-auth' } });
    expect(c.statusWriteBack).toEqual({ branch: 'mamori-status', intervalSeconds: 60 });
    expect(c.consoleProfiles).toEqual({ dc1: { driver: 'ipmi' } });
  });

  test('probe.intervalSeconds: auto — the budget filled with its defaults, the interval for no servers its politeness floor, the power wait at its floor; anything else than a number or auto refused by line and field', async () => {
    const p = write('auto.yaml', 'probe:\n  intervalSeconds: auto\n  auto: { cpuFraction: 0.5, politenessSeconds: 10 }\n');
    const c = await loadConfig(p);
    expect(c.probe.intervalSeconds).toBe(10);
    expect(c.probe.auto).toEqual({ cpuFraction: 0.5, cpuMsPerProbe: 2, maxProbesPerSecond: 1000, politenessSeconds: 10, maxSeconds: 300, powerWaitFloorSeconds: 30 });
    expect(c.remediation.destructiveWaitSeconds).toBe(30);
    const q = write('auto-wait.yaml', 'probe: { intervalSeconds: auto }\nremediation: { destructiveWaitSeconds: 90 }\n');
    const w = await loadConfig(q);
    expect(w.probe.auto?.explicitPowerWaitSeconds).toBe(90);
    expect(w.remediation.destructiveWaitSeconds).toBe(90);
    expect((await loadConfig(write('fixed.yaml', 'probe: { intervalSeconds: 12 }\n'))).probe.auto).toBeUndefined();
    const bad = write('auto-bad.yaml', 'probe:\n  intervalSeconds: fast\n  auto: { cpuFraction: 0 }\n');
    const err = (await loadConfig(bad).catch((e: unknown) => e)) as MamoriError;
    expect(err.code).toBe('MAMORI_CONFIG_INVALID');
    const fields = ((err.details.findings as Finding[]) ?? []).map((f) => `${f.line} ${f.field}`);
    expect(fields).toEqual(expect.arrayContaining(['2 probe.intervalSeconds', '3 probe.auto.cpuFraction']));
  });

  test('a bad file is refused naming every finding by file, line and field', async () => {
    const p = write(
      'bad.yaml',
      `apiVersion: mamori/v1
probe:
  intervalSeconds: -1
  timeout: 5
targetNetworks: [10.0.0.0/40]
consoleProfiles:
  dc1: { driver: telnet }
http: { token: "s3cr3t-t0ken" }
`,
    );
    let err: unknown;
    try {
      await loadConfig(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MamoriError);
    const e = err as MamoriError;
    expect(e.code).toBe('MAMORI_CONFIG_INVALID');
    const findings = e.details.findings as Finding[];
    expect(findings.map((f) => `${f.line} ${f.field} [${f.rule}]`)).toEqual(
      expect.arrayContaining([
        '3 probe.intervalSeconds [schema]',
        '4 probe.timeout [schema]',
        '5 targetNetworks[0] [schema]',
        '7 consoleProfiles.dc1.driver [schema]',
        '8 http.token [secret-inline]',
      ]),
    );
    expect(e.message).toContain(`${p}:3:3: error: probe.intervalSeconds: must be at least 0.2 [schema]`);
    expect(e.message).not.toContain('s3cr3t-t0ken');
  });

  test('vantages: one self, an agent token for each other, unique names, a reachable power quorum; defaults from the probe interval', async () => {
    const bad = join(dir, 'vantages-bad.yaml');
    writeFileSync(
      bad,
      `vantages:
  - { name: tokyo-a, network: 210.224.172.0/24 }
  - { name: tokyo-b, network: 210.188.224.0/24 }
  - { name: tokyo-b, network: 10.232.0.0/24, self: true, token: { secretRef: agent-b } }
quorum: { power: 4 }
`,
    );
    const err = (await loadConfig(bad).catch((e: unknown) => e)) as MamoriError;
    expect(err.code).toBe('MAMORI_CONFIG_INVALID');
    expect(((err.details.findings as Finding[]) ?? []).map((f) => `${f.line} ${f.field} [${f.rule}]`)).toEqual([
      '2 vantages[0] [vantages]',
      '3 vantages[1] [vantages]',
      '4 vantages[2].name [vantages]',
      '4 vantages[2].token [vantages]',
      '5 quorum.power [vantages]',
    ]);
    const good = join(dir, 'vantages-good.yaml');
    writeFileSync(good, `probe: { intervalSeconds: 20 }
massFailure: { minServers: 4 }
vantages:
  - { name: tokyo-a, network: 210.224.172.0/24, self: true }
  - { name: tokyo-b, network: 210.188.224.0/24, token: { secretRef: agent-b } }
`);
    const c = await loadConfig(good);
    expect(c.vantages).toEqual({
      self: { name: 'tokyo-a', network: '210.224.172.0/24' },
      agents: [{ name: 'tokyo-b', network: '210.188.224.0/24', token: { secretRef: 'agent-b' } }],
      quorum: { power: 2, freshSeconds: 60, maxSkewSeconds: 30, manyServers: 4 },
    });
    expect((await loadConfig(undefined)).vantages).toBeUndefined();
  });

  test('http access: a customer token names its customer and no other token does; public host names need a token; no token typed inline', async () => {
    const p = join(dir, 'http-access.yaml');
    writeFileSync(
      p,
      `http:
  tokens:
    - { scope: customer, secretRef: acme-status }
    - { scope: metrics, customer: acme, secretRef: prom }
    - "plain-token-typed-in-0123456789"
  publicHosts: [status.example.net]
`,
    );
    const err = await loadConfig(p).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MAMORI_CONFIG_INVALID' });
    const findings = (err as MamoriError).details.findings as Finding[];
    expect(findings.map((f) => `${f.line} ${f.field} [${f.rule}]`)).toEqual(expect.arrayContaining(['5 http.tokens[2] [secret-inline]']));
    expect((err as MamoriError).message).not.toContain('plain-token-typed-in');
    const q = join(dir, 'http-access-2.yaml');
    writeFileSync(q, `http:\n  tokens:\n    - { scope: customer, secretRef: acme-status }\n    - { scope: metrics, customer: acme, secretRef: prom }\n`);
    const err2 = (await loadConfig(q).catch((e: unknown) => e)) as MamoriError;
    expect(((err2.details.findings as Finding[]) ?? []).map((f) => `${f.line} ${f.field} [${f.rule}]`)).toEqual(['3 http.tokens[0] [http-access]', '4 http.tokens[1].customer [http-access]']);
    const r = join(dir, 'http-access-3.yaml');
    writeFileSync(r, `http: { publicHosts: [status.example.net] }\n`);
    const err3 = (await loadConfig(r).catch((e: unknown) => e)) as MamoriError;
    expect(((err3.details.findings as Finding[]) ?? []).map((f) => `${f.field} [${f.rule}]`)).toEqual(['http.publicHosts [http-access]']);
    const ok = join(dir, 'http-access-4.yaml');
    writeFileSync(ok, `http:\n  publicHosts: [Status.Example.NET]\n  tokens:\n    - { scope: customer, customer: acme, secretRef: acme-status }\n  socket: run/mamori.sock\n  socketMode: "0660"\n`);
    const c = await loadConfig(ok);
    expect(c.http).toMatchObject({ publicHosts: ['status.example.net'], tokens: [{ scope: 'customer', customer: 'acme', secretRef: 'acme-status' }], socket: join(dir, 'run/mamori.sock'), socketMode: '0660' });
  });

  test('a missing file is MAMORI_CONFIG_UNREADABLE', async () => {
    await expect(loadConfig(join(dir, 'nope.yaml'))).rejects.toMatchObject({ code: 'MAMORI_CONFIG_UNREADABLE' });
  });

  test('a console profile of the wrong shape for its driver says which field', () => {
    const { findings } = checkConfigText('consoleProfiles:\n  lab: { driver: command, power: [x] }\n', 'c.yaml');
    expect(findings.map((f) => `${f.line} ${f.field} ${f.message}`)).toEqual(['2 consoleProfiles.lab.console is required (Console argv: Runs a command on the console: argv elements with {{server.name}}, {{server.address}}, {{console.target}}, {{command}}.)']);
  });

  test('canaries must lie in the target networks', () => {
    const { findings } = checkConfigText('targetNetworks: [203.0.113.0/24]\nmassFailure:\n  canaries:\n    - { address: 203.0.113.1 }\n    - { address: 8.8.8.8 }\n', 'c.yaml');
    expect(findings.map((f) => `${f.line} ${f.field} [${f.rule}]`)).toEqual(['5 massFailure.canaries[1].address [network-target]']);
  });

  test('IPv4 written as IPv6 is refused in target networks and canaries', () => {
    const { findings } = checkConfigText('targetNetworks: [203.0.113.0/24, "::ffff:198.51.100.0/120"]\nmassFailure:\n  canaries:\n    - { address: "::203.0.113.1" }\n', 'c.yaml');
    expect(findings.map((f) => `${f.line} ${f.field} [${f.rule}]`)).toEqual(['1 targetNetworks[1] [network-ipv4-embedded]', '4 massFailure.canaries[0].address [network-ipv4-embedded]']);
  });

  test('defaultConfig is the same as loadConfig without a file', async () => {
    expect(defaultConfig('/x')).toEqual(await loadConfig(undefined, { cwd: '/x' }));
  });
});

describe('signing', () => {
  const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0000000000000000000000000000000000000000000 ops@provider';
  test('signers, groups and path rules: keyring paths from the file, fingerprints normalised', async () => {
    const file = write(
      'signing.yaml',
      `signing:
  signers:
    ops-alice: { ssh: ["${KEY}"] }
    acme-dev: { openpgp: [{ fingerprint: "aaaa 1111 bbbb 2222 cccc 3333 dddd 4444 eeee 5555", keyring: keys/acme.asc }] }
  groups: { operators: [ops-alice] }
  paths:
    - { glob: "customers/acme/**", signers: [acme-dev, operators] }
    - { glob: "operator/**", signers: [operators] }
`,
    );
    const c = await loadConfig(file);
    expect(c.signing).toEqual({
      signers: {
        'ops-alice': { ssh: [KEY], openpgp: [] },
        'acme-dev': { ssh: [], openpgp: [{ fingerprint: 'AAAA1111BBBB2222CCCC3333DDDD4444EEEE5555', keyring: join(dir, 'keys/acme.asc') }] },
      },
      groups: { operators: ['ops-alice'] },
      paths: [
        { glob: 'customers/acme/**', signers: ['acme-dev', 'operators'] },
        { glob: 'operator/**', signers: ['operators'] },
      ],
      operatorSigners: [],
    });
  });

  test.each([
    ['signing: { groups: {} }', 1, 'signing', 'name the signers'],
    [`signing:\n  signers:\n    a: { ssh: ["${KEY}"] }\n  paths:\n    - { glob: "**", signers: [a, b] }`, 5, 'signing.paths[0].signers[1]', 'b is neither a signer nor a group'],
    [`signing:\n  signers:\n    a: { ssh: ["${KEY}"] }\n  groups:\n    ops: [a, z]`, 5, 'signing.groups.ops[1]', 'z is not a signer'],
    [`signing:\n  signers:\n    a: { openpgp: [{ fingerprint: "${'A'.repeat(40)}" }] }`, 3, 'signing.signers.a.openpgp[0]', 'one of the two'],
    [`signing:\n  signers:\n    a: { ssh: ["not a key"] }`, 3, 'signing.signers.a.ssh[0]', ''],
    [`signing:\n  signers:\n    a: { ssh: ["${KEY}"] }\n  paths:\n    - { glob: "customers/[ab]/**", signers: [a] }`, 5, 'signing.paths[0].glob', ''],
  ])('refuses %j at line %i, %s', (text, line, field, message) => {
    const { findings } = checkConfigText(text, 'mamori.yaml');
    const f = findings.find((x) => x.field === field);
    expect(f, JSON.stringify(findings)).toMatchObject({ file: 'mamori.yaml', line, severity: 'error' });
    expect(f?.message).toContain(message);
  });
});
