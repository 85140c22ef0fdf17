/**
 * `mamori plan` at fleet size: 10,000 servers validated at two revisions that differ in
 * one standard runbook, then every effective runbook (~45,000 server services) rendered
 * on both sides and diffed. Wall and CPU time, and how many services the change reaches.
 */
import { defaultConfig } from '../src/config/load-config.ts';
import { readManifestTree, SHIPPED_OPERATOR_DIR } from '../src/manifest/read-tree.ts';
import { validateDocuments } from '../src/manifest/validate-documents.ts';
import type { ManifestFile } from '../src/manifest/types.ts';
import { computePlan, type PlanSide } from '../src/plan/compute.ts';
import { formatPlan } from '../src/plan/format.ts';
import { reviewPolicyCheck } from '../src/runbook/policy.ts';
import { runbookSelector } from '../src/runbook/manifest-hooks.ts';

const SERVERS = 10_000;
const OS = ['{ family: centos, version: "5.4" }', '{ family: freebsd, version: "6.3" }', '{ family: rhel, variant: es, version: "4.8" }', '{ family: centos, version: "7.9" }'];
const SERVICES = ['[ping, http, https, ssh]', '[ping, smtp, pop3, imap, ftp, telnet, ssh]', '[ping, http, ssh, ftp]'];
const KEY = 'SHA256:n5b4EE+KUGOtL6UdDkL/CCe7RFkrTSLS1mNAdXJPHyE';

function servers(): ManifestFile[] {
  return Array.from({ length: SERVERS }, (_, i) => {
    const customer = `c${i % 100}`;
    const name = `srv${i}`;
    return {
      path: `customers/${customer}/servers/${name}.yaml`,
      content: `apiVersion: mamori/v1
kind: Server
metadata: { name: ${name}, customer: ${customer} }
spec:
  address: 10.231.${(i >> 8) % 256}.${i % 256}
  os: ${OS[i % OS.length]}
  plan: basic
  contact: { email: ops@${customer}.example }
  allowedNetworks: [210.224.172.0/24, 210.188.224.0/24]
  services: ${SERVICES[i % SERVICES.length]}
  access: { user: mamori, hostKey: "${KEY}", credentials: { secretRef: ${customer}-${name} } }
`,
    };
  });
}

function measure<T>(fn: () => T): { value: T; wallMs: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const c = process.cpuUsage(c0);
  return { value, wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

export async function run(): Promise<void> {
  const config = defaultConfig();
  const operator = (await readManifestTree(SHIPPED_OPERATOR_DIR, { operatorDir: SHIPPED_OPERATOR_DIR })).files.filter((f) => f.path.startsWith('operator/'));
  const changed = operator.map((f) =>
    f.path === 'operator/runbooks/std-httpd-el-sysv.yaml'
      ? { ...f, content: new TextDecoder().decode(f.content as Uint8Array).replace('command: /etc/init.d/httpd restart', 'command: /etc/init.d/httpd graceful') }
      : f,
  );
  const fleet = servers();
  const side = (files: ManifestFile[], label: string): PlanSide => {
    const set = validateDocuments(files, { config, selectRunbook: runbookSelector, checks: [reviewPolicyCheck(() => undefined)] });
    return { label, servers: set.servers, runbooks: set.runbooks, findings: set.findings };
  };
  const load = measure(() => [side([...operator, ...fleet], 'before'), side([...changed, ...fleet], 'after')] as const);
  const [before, after] = load.value;
  const plan = measure(() => computePlan(before, after));
  const text = measure(() => formatPlan(plan.value, 'markdown'));
  const reach = plan.value.runbooks.find((r) => r.name === 'std-httpd-el-sysv')?.reaches.length ?? 0;
  const services = plan.value.effective.unchanged + plan.value.effective.changed.length;
  process.stdout.write(
    `plan ${SERVERS} servers: validate both revisions ${load.wallMs.toFixed(0)} ms wall / ${load.cpuMs.toFixed(0)} ms CPU; ` +
      `render+diff ${services} effective runbooks x2 ${plan.wallMs.toFixed(0)} ms wall / ${plan.cpuMs.toFixed(0)} ms CPU; ` +
      `markdown ${(text.value.length / 1024).toFixed(0)} KiB in ${text.wallMs.toFixed(0)} ms; one standard runbook reaches ${reach} server services in ${plan.value.effective.groups.length} diff groups\n`,
  );
}
