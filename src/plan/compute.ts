/**
 * What a change to the manifests does, computed from two loaded revisions: servers
 * added, removed and changed field by field, runbook documents touched, and the
 * effective runbook of every server and service rendered on both sides and diffed, so
 * that a change to a standard runbook shows every server it reaches. Pure.
 */
import type { Finding, LoadedDocument, RunbookDocument, ServerDocument, ServiceName } from '../manifest/types.ts';
import { serviceNames } from '../manifest/services.ts';
import { formatRenderedRunbook } from '../runbook/format.ts';
import { effectiveRunbook } from '../runbook/effective.ts';
import { unifiedDiff } from './unified-diff.ts';

export interface PlanSide {
  /** The revision as people name it: a commit, a folder. */
  label: string;
  servers: ReadonlyMap<string, LoadedDocument<ServerDocument>>;
  runbooks: ReadonlyMap<string, LoadedDocument<RunbookDocument>>;
  findings: readonly Finding[];
}

export interface ServerSummary {
  name: string;
  customer?: string;
  file: string;
  os: string;
  plan: string;
  address: string;
  services: string[];
}

export interface FieldChange {
  /** The field, without the leading `spec.` (`contact.email`, `access.credentials.secretRef`). */
  field: string;
  from?: string;
  to?: string;
}

export interface ServerChange {
  name: string;
  customer?: string;
  file: string;
  changes: FieldChange[];
}

export interface RunbookDocChange {
  name: string;
  owner: string;
  file: string;
  change: 'added' | 'removed' | 'changed';
  /** Every server and service whose effective runbook is this one (at either revision) and changed: the blast radius. */
  reaches: Array<{ server: string; service: ServiceName }>;
}

export interface EffectiveSide {
  runbook?: string;
  origin?: 'custom' | 'standard';
  /** The rendered steps (the header line excluded), or why there are none. */
  lines: string[];
  error?: string;
}

export interface EffectiveChange {
  server: string;
  service: ServiceName;
  before?: EffectiveSide;
  after?: EffectiveSide;
  diff: string[];
}

/** Effective changes that are the same change: one diff, every server and service it reaches. */
export interface EffectiveGroup {
  before?: string;
  after?: string;
  diff: string[];
  targets: Array<{ server: string; service: ServiceName }>;
}

export interface Plan {
  from: string;
  to: string;
  servers: {
    added: ServerSummary[];
    removed: ServerSummary[];
    /** In the old revision, and in the new one only with errors (so not planned as removed). */
    invalid: ServerSummary[];
    changed: ServerChange[];
  };
  runbooks: RunbookDocChange[];
  effective: { changed: EffectiveChange[]; groups: EffectiveGroup[]; unchanged: number };
  findings: { from: Finding[]; to: Finding[] };
  /** With signing configured: for each file the change touches, the signers who may sign it. */
  signers?: Array<{ file: string; glob?: string; signers: string[] }>;
}

function osText(os: ServerDocument['spec']['os']): string {
  return [os.family, os.variant, os.version].filter((p) => p !== undefined).join(' ');
}

function summary(loaded: LoadedDocument<ServerDocument>): ServerSummary {
  const s = loaded.doc;
  return {
    name: s.metadata.name,
    ...(s.metadata.customer === undefined ? {} : { customer: s.metadata.customer }),
    file: loaded.file,
    os: osText(s.spec.os),
    plan: s.spec.plan,
    address: s.spec.address,
    services: serviceNames(s),
  };
}

function scalar(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A server's fields as flat `path → text`, in the words a reviewer reads. */
function flatten(server: ServerDocument): Map<string, string> {
  const out = new Map<string, string>();
  if (server.metadata.customer !== undefined) out.set('metadata.customer', server.metadata.customer);
  const walk = (value: unknown, path: string): void => {
    if (value === undefined) return;
    if (Array.isArray(value)) {
      out.set(path, value.map(scalar).join(', '));
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, path === '' ? k : `${path}.${k}`);
    } else {
      out.set(path, scalar(value));
    }
  };
  const { os, services, ...rest } = server.spec;
  out.set('os', osText(os));
  out.set(
    'services',
    services.map((s) => (typeof s === 'string' ? s : Object.entries(s).map(([k, v]) => (v === null || v === undefined ? k : `${k} ${JSON.stringify(v)}`)).join(''))).join(', '),
  );
  walk(rest, '');
  return out;
}

function fieldChanges(a: ServerDocument, b: ServerDocument): FieldChange[] {
  const before = flatten(a);
  const after = flatten(b);
  const keys = [...new Set([...before.keys(), ...after.keys()])].sort();
  const changes: FieldChange[] = [];
  for (const field of keys) {
    const from = before.get(field);
    const to = after.get(field);
    if (from === to) continue;
    changes.push({ field, ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) });
  }
  return changes;
}

function effectiveAt(side: PlanSide, server: LoadedDocument<ServerDocument>, service: ServiceName): EffectiveSide {
  const e = effectiveRunbook(server.doc, service, side.runbooks as Map<string, LoadedDocument<RunbookDocument>>);
  if (e.ok) return { runbook: e.runbook.metadata.name, origin: e.origin, lines: formatRenderedRunbook(e.rendered).slice(1) };
  if (e.reason === 'NoRunbook') return { lines: [`(no runbook: ${e.error})`], error: e.error };
  return { runbook: e.runbook.metadata.name, origin: e.origin, lines: [`(cannot render: ${e.error})`], error: e.error };
}

const ownerText = (r: LoadedDocument<RunbookDocument>): string => (r.owner.kind === 'operator' ? 'operator' : r.owner.customer);
const runbookKey = (r: LoadedDocument<RunbookDocument>): string => r.file;
const sideName = (s: EffectiveSide | undefined): string | undefined => (s === undefined ? undefined : s.runbook === undefined ? '(none)' : `${s.runbook} (${s.origin ?? ''})`);

export function computePlan(from: PlanSide, to: PlanSide): Plan {
  const names = [...new Set([...from.servers.keys(), ...to.servers.keys()])].sort();
  const added: ServerSummary[] = [];
  const removed: ServerSummary[] = [];
  const invalid: ServerSummary[] = [];
  const changed: ServerChange[] = [];
  const errorFilesTo = new Set(to.findings.filter((f) => f.severity === 'error').map((f) => f.file));

  for (const name of names) {
    const a = from.servers.get(name);
    const b = to.servers.get(name);
    if (a === undefined && b !== undefined) added.push(summary(b));
    else if (a !== undefined && b === undefined) (errorFilesTo.has(a.file) ? invalid : removed).push(summary(a));
    else if (a !== undefined && b !== undefined) {
      const changes = fieldChanges(a.doc, b.doc);
      if (a.file !== b.file) changes.unshift({ field: 'file', from: a.file, to: b.file });
      if (changes.length > 0) {
        changed.push({ name: b.doc.metadata.name, ...(b.doc.metadata.customer === undefined ? {} : { customer: b.doc.metadata.customer }), file: b.file, changes });
      }
    }
  }

  const runbooks: RunbookDocChange[] = [];
  const before = new Map([...from.runbooks.values()].map((r) => [runbookKey(r), r]));
  const after = new Map([...to.runbooks.values()].map((r) => [runbookKey(r), r]));
  for (const key of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const a = before.get(key);
    const b = after.get(key);
    const r = (b ?? a) as LoadedDocument<RunbookDocument>;
    const change = a === undefined ? 'added' : b === undefined ? 'removed' : JSON.stringify(a.doc) === JSON.stringify(b.doc) ? undefined : 'changed';
    if (change !== undefined) runbooks.push({ name: r.doc.metadata.name, owner: ownerText(r), file: r.file, change, reaches: [] });
  }

  const effective: EffectiveChange[] = [];
  let unchanged = 0;
  for (const name of names) {
    const a = from.servers.get(name);
    const b = to.servers.get(name);
    const services = [...new Set([...(a === undefined ? [] : serviceNames(a.doc)), ...(b === undefined ? [] : serviceNames(b.doc))])];
    for (const service of services) {
      const was = a !== undefined && serviceNames(a.doc).includes(service) ? effectiveAt(from, a, service) : undefined;
      const is = b !== undefined && serviceNames(b.doc).includes(service) ? effectiveAt(to, b, service) : undefined;
      if (was !== undefined && is !== undefined && sideName(was) === sideName(is) && was.lines.join('\n') === is.lines.join('\n')) {
        unchanged++;
        continue;
      }
      effective.push({
        server: name,
        service,
        ...(was === undefined ? {} : { before: was }),
        ...(is === undefined ? {} : { after: is }),
        diff: unifiedDiff(was?.lines ?? [], is?.lines ?? []),
      });
    }
  }

  for (const doc of runbooks) {
    const origin = doc.owner === 'operator' ? 'standard' : 'custom';
    const uses = (s: EffectiveSide | undefined): boolean => s?.runbook === doc.name && s.origin === origin;
    doc.reaches = effective.filter((e) => uses(e.before) || uses(e.after)).map((e) => ({ server: e.server, service: e.service }));
  }

  const groups = new Map<string, EffectiveGroup>();
  for (const e of effective) {
    const beforeName = sideName(e.before);
    const afterName = sideName(e.after);
    const key = JSON.stringify([beforeName, afterName, e.diff]);
    let group = groups.get(key);
    if (group === undefined) {
      group = { ...(beforeName === undefined ? {} : { before: beforeName }), ...(afterName === undefined ? {} : { after: afterName }), diff: e.diff, targets: [] };
      groups.set(key, group);
    }
    group.targets.push({ server: e.server, service: e.service });
  }

  return {
    from: from.label,
    to: to.label,
    servers: { added, removed, invalid, changed },
    runbooks,
    effective: { changed: effective, groups: [...groups.values()], unchanged },
    findings: { from: [...from.findings], to: [...to.findings] },
  };
}
