/**
 * The loader's speed: validating 10,000 generated manifests (goal < 3 s on 2 cores),
 * and refusing an alias bomb and a 50 MB file (goal < 1 s each). Wall and CPU time.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifests } from '../src/manifest/load-manifests.ts';
import { validateDocuments } from '../src/manifest/validate-documents.ts';
import { readManifestTree, SHIPPED_OPERATOR_DIR } from '../src/manifest/read-tree.ts';
import { defaultConfig } from '../src/config/load-config.ts';
import type { ManifestFile } from '../src/manifest/types.ts';

const SERVERS = 10_000;
const CUSTOMERS = 100;
const OS = ['{ family: centos, version: "5.4" }', '{ family: freebsd, version: "8.4" }', '{ family: rhel, variant: es, version: "4.8" }', '{ family: rhel, variant: server, version: "5.11" }'];
const SERVICES = ['[ping, http, ssh]', '[ping, smtp, pop3, imap, ftp, telnet, ssh]', '[ping, { https: { path: /health } }, ssh, ftp]'];
const KEY = 'SHA256:n5b4EE+KUGOtL6UdDkL/CCe7RFkrTSLS1mNAdXJPHyE';

function serverYaml(i: number): { path: string; text: string } {
  const customer = `c${i % CUSTOMERS}`;
  const name = `srv${i}`;
  const text = `# yaml-language-server: $schema=../../../../schemas/server.schema.json
apiVersion: mamori/v1
kind: Server
metadata:
  name: ${name}
  customer: ${customer}
spec:
  address: 10.231.${(i >> 8) % 256}.${i % 256}
  os: ${OS[i % OS.length]}
  plan: basic
  contact: { email: ops@${customer}.example, locale: ja }
  allowedNetworks: [210.224.172.0/24, 210.188.224.0/24]
  location: { site: dojima, rack: R${i % 50} }
  services: ${SERVICES[i % SERVICES.length]}
  access:
    user: mamori
    hostKey: "${KEY}"
    credentials: { secretRef: ${customer}-${name} }
  console: { profile: manual }
`;
  return { path: `customers/${customer}/servers/${name}.yaml`, text };
}

function time<T>(fn: () => T): { value: T; wallMs: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { value, wallMs, cpuMs: (c.user + c.system) / 1000 };
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<{ value: T; wallMs: number; cpuMs: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { value, wallMs, cpuMs: (c.user + c.system) / 1000 };
}

const fmt = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;

function line(what: string, r: { wallMs: number; cpuMs: number }, goalMs: number, extra = ''): void {
  const verdict = r.wallMs < goalMs ? 'ok' : 'OVER GOAL';
  process.stdout.write(`${what.padEnd(52)} ${fmt(r.wallMs).padStart(9)} wall  ${fmt(r.cpuMs).padStart(9)} cpu   goal < ${goalMs / 1000} s  ${verdict}${extra}\n`);
}

function billionLaughs(): string {
  let text = 'apiVersion: mamori/v1\nkind: Server\nmetadata:\n  name: web01\n  customer: acme\n  labels:\n    l0: &l0 "lol"\n';
  for (let i = 1; i <= 9; i++) text += `    l${i}: &l${i} [${Array.from({ length: 9 }, () => `*l${i - 1}`).join(', ')}]\n`;
  return text;
}

export async function run(): Promise<void> {
  const config = defaultConfig();
  const operator = (await readManifestTree('/nonexistent', { operatorDir: SHIPPED_OPERATOR_DIR })).files;
  const generated = Array.from({ length: SERVERS }, (_, i) => serverYaml(i));
  const files: ManifestFile[] = [...operator, ...generated.map((g) => ({ path: g.path, content: g.text }))];

  // Warm up: schema compilation happens once per process and is not per-document cost.
  validateDocuments(files.slice(0, operator.length + 10), { config });

  const mem = time(() => validateDocuments(files, { config }));
  const errors = mem.value.findings.filter((f) => f.severity === 'error').length;
  if (mem.value.servers.size !== SERVERS || errors > 0) throw new Error(`bench corpus invalid: ${mem.value.servers.size} servers, ${errors} errors`);
  line(`validate ${SERVERS} manifests (in memory)`, mem, 3000, `  (${((mem.wallMs * 1000) / SERVERS).toFixed(0)} µs each)`);

  const dir = mkdtempSync(join(tmpdir(), 'mamori-bench-'));
  try {
    for (let c = 0; c < CUSTOMERS; c++) mkdirSync(join(dir, `customers/c${c}/servers`), { recursive: true });
    for (const g of generated) writeFileSync(join(dir, g.path), g.text);
    const disk = await timeAsync(() => loadManifests(dir, { config }));
    if (disk.value.servers.size !== SERVERS) throw new Error('bench tree invalid');
    line(`load + validate ${SERVERS} manifests (from disk)`, disk, 3000);

    const bomb: ManifestFile = { path: 'customers/acme/servers/web01.yaml', content: billionLaughs() };
    const b = time(() => validateDocuments([bomb], { config }));
    const rule = b.value.findings.find((f) => f.file === bomb.path)?.rule;
    line('refuse an alias bomb (9 levels of 9)', b, 1000, `  [${rule}]`);

    const deep: ManifestFile = { path: 'customers/acme/servers/web01.yaml', content: `a: ${'['.repeat(120_000)}${']'.repeat(120_000)}\n` };
    const d = time(() => validateDocuments([deep], { config }));
    line('refuse 120,000 levels of nesting (240 KB)', d, 1000, `  [${d.value.findings.find((f) => f.file === deep.path)?.rule}]`);

    const bigTree = join(dir, 'big');
    mkdirSync(join(bigTree, 'customers/c0/servers'), { recursive: true });
    const chunk = `# ${'x'.repeat(1021)}\n`;
    writeFileSync(join(bigTree, 'customers/c0/servers/big.yaml'), chunk.repeat(50 * 1024));
    const onDisk = await timeAsync(() => loadManifests(bigTree, { config }));
    const bigRule = onDisk.value.findings.find((f) => f.file === 'customers/c0/servers/big.yaml')?.rule;
    line('refuse a 50 MB file (on disk; load of its tree)', onDisk, 1000, `  [${bigRule}]`);
    const bigMem: ManifestFile = { path: 'customers/c0/servers/big.yaml', content: chunk.repeat(50 * 1024) };
    const m = time(() => validateDocuments([bigMem], { config }));
    line('refuse a 50 MB file (in memory, as from git)', m, 1000, `  [${m.value.findings.find((f) => f.file === bigMem.path)?.rule}]`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
