import { MamoriError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Finding, LoadedDocument, ManifestSet, ServerDocument } from '../manifest/types.ts';
import type { Snapshot, SourceFile } from './types.ts';
import type { ChangeRefusal } from './judge-changes.ts';

/** The finding rule of a file whose change was refused for its signer (src/source/git.ts). */
export const SIGNER_RULE = 'signer-not-allowed';

/**
 * Applying a revision: the step between "the source has files at revision R" and "the reconciler
 * watches these servers". Each revision is loaded and validated whole; what is valid is applied,
 * what is not keeps its last-known-good state, and what could hurt the fleet waits for an operator.
 */

/** The loader, injected: `validateDocuments` of src/manifest, bound to the daemon's config. */
export type ValidateRevision = (files: SourceFile[], revision: string) => ManifestSet | Promise<ManifestSet>;

export interface ManifestInvalidCondition {
  type: 'ManifestInvalid';
  /** The revision whose manifest for this server was refused. */
  revision: string;
  findings: Finding[];
}

/** One server as applied: its manifest, and the revision that manifest comes from. */
export interface AppliedServer {
  name: string;
  document: LoadedDocument<ServerDocument>;
  /** Older than the applied revision when the server keeps its last-known-good manifest. */
  revision: string;
  condition?: ManifestInvalidCondition;
}

/** Where applied servers go: the reconciler's controller (adapted in daemon.ts). */
export interface DesiredSink {
  setDesired(revision: string, servers: readonly AppliedServer[]): void | Promise<void>;
}

/** Status of a removed server is archived, never deleted. */
export interface StatusArchiver {
  archive(server: string): void | Promise<void>;
}

/** Last-known-good manifests kept across restarts (src/source/last-good.ts). */
export interface LastGoodPersistence {
  load(): Promise<Map<string, AppliedServer>>;
  save(servers: readonly AppliedServer[]): Promise<void>;
}

export type HoldReason = 'Rollback' | 'TooManyRemovals';
export type RefuseReason = 'OperatorDocumentsInvalid' | 'LoadFailed';

export type ApplyOutcome =
  | { result: 'applied'; revision: string; added: string[]; removed: string[]; changed: string[]; keptLastGood: string[] }
  | { result: 'unchanged'; revision: string }
  | { result: 'held'; revision: string; reason: HoldReason; message: string; affected: string[] }
  | { result: 'refused'; revision: string; reason: RefuseReason; message: string; findings: Finding[] };

/**
 * What people must hear about a revision, as data: the source reports what it refused or held and
 * why (each finding names its file, line and field); the daemon turns it into mail and webhook
 * events (src/daemon/revision-notices.ts). src/source builds no notification.
 */
export type RevisionProblem =
  /** The whole revision refused (an operator document invalid, or it could not be loaded): the previous one runs. */
  | { kind: 'revision-refused'; revision: string; reason: RefuseReason; message: string; findings: Finding[]; keptRevision: string | undefined; at: string }
  /** The revision waits for `mamori confirm`. */
  | { kind: 'revision-held'; revision: string; reason: HoldReason; message: string; affected: string[]; keptRevision: string | undefined; since: string }
  /** Files refused for their signer, new in this revision, with the servers applied (their contacts own the files). */
  | { kind: 'changes-refused'; revision: string; refusals: readonly ChangeRefusal[]; servers: readonly ServerDocument[]; at: string };

export interface HeldRevision {
  revision: string;
  reason: HoldReason;
  message: string;
  affected: string[];
  since: string;
}

export interface RefusedRevision {
  revision: string;
  reason: RefuseReason;
  message: string;
  findings: Finding[];
  at: string;
}

export interface DesiredStatus {
  revision?: string;
  appliedAt?: string;
  servers: number;
  held?: HeldRevision;
  refused?: RefusedRevision;
  /** Servers running on a last-known-good manifest, with the findings of the refused one. */
  manifestInvalid: Record<string, ManifestInvalidCondition>;
  /** Findings of documents that never had a good version (new servers, runbooks) in the applied revision. */
  findings: Finding[];
}

export interface HoldPolicy {
  maxRemovedFraction: number;
  holdRollbacks: boolean;
}

export interface DesiredStateOptions {
  validate: ValidateRevision;
  sink: DesiredSink;
  archiver?: StatusArchiver;
  holds: HoldPolicy;
  logger: Logger;
  /**
   * Told of a refused or held revision and of newly refused changes, once each; the daemon tells
   * people (src/daemon/revision-notices.ts). Without it they are only logged and shown in status.
   */
  onProblem?: (problem: RevisionProblem) => Promise<void>;
  now?: () => Date;
  /** Where last-known-good manifests survive a restart; in memory only without it. */
  lastGood?: LastGoodPersistence;
}

export interface ApplyFlags {
  /** An operator confirmed this revision (`mamori confirm`): holds do not apply. */
  confirmed?: boolean;
  /** The revision applied before a restart: it was judged then; apply it as the starting point. */
  baseline?: boolean;
}

/** Documents owned by the operator: a broken one keeps the whole previous revision. */
export function isOperatorFile(file: string): boolean {
  return file === 'operator' || file.startsWith('operator/') || file.includes('/operator/');
}

export class DesiredState {
  private readonly options: DesiredStateOptions;
  private readonly now: () => Date;
  private servers = new Map<string, AppliedServer>();
  private revision: string | undefined;
  private appliedAt: string | undefined;
  private held: { info: HeldRevision; snapshot: Snapshot } | undefined;
  private refused: RefusedRevision | undefined;
  private findings: Finding[] = [];
  /** Last-good manifests saved by an earlier run, read at the first revision applied. */
  private persisted: Map<string, AppliedServer> | undefined;
  /** Serialises apply/confirm: two revisions are never applied at once. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: DesiredStateOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  apply(snapshot: Snapshot, flags: ApplyFlags = {}): Promise<ApplyOutcome> {
    const run = this.queue.then(() => this.applyNow(snapshot, flags));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Apply the held revision; `revision` may be a unique prefix of at least 7 characters. */
  confirm(revision: string): Promise<ApplyOutcome> {
    const run = this.queue.then(() => {
      const held = this.held;
      const matches = held && (held.info.revision === revision || (revision.length >= 7 && held.info.revision.startsWith(revision)));
      if (!held || !matches) {
        throw new MamoriError('MAMORI_DAEMON_NOT_HELD', `revision ${revision} is not waiting for confirmation`, {
          details: { revision, held: held?.info.revision },
        });
      }
      this.options.logger.info({ revision: held.info.revision, reason: held.info.reason }, 'held revision confirmed');
      return this.applyNow(held.snapshot, { confirmed: true });
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** A reloaded config's holds apply to the next revision. */
  setHolds(holds: HoldPolicy): void {
    this.options.holds = { ...holds };
  }

  get appliedRevision(): string | undefined {
    return this.revision;
  }

  status(): DesiredStatus {
    const manifestInvalid: Record<string, ManifestInvalidCondition> = {};
    for (const server of this.servers.values()) if (server.condition) manifestInvalid[server.name] = server.condition;
    return {
      revision: this.revision,
      appliedAt: this.appliedAt,
      servers: this.servers.size,
      held: this.held?.info,
      refused: this.refused,
      manifestInvalid,
      findings: this.findings,
    };
  }

  appliedServers(): AppliedServer[] {
    return [...this.servers.values()];
  }

  private async applyNow(snapshot: Snapshot, flags: ApplyFlags): Promise<ApplyOutcome> {
    const log = this.options.logger.child({ revision: snapshot.revision });
    const revision = snapshot.revision;
    if (revision === this.revision && !flags.confirmed) {
      // Back to the applied revision (a held or refused one was replaced): nothing waits any more.
      this.held = undefined;
      this.refused = undefined;
      return { result: 'unchanged', revision };
    }

    const started = performance.now();
    let set: ManifestSet;
    try {
      set = await this.options.validate(snapshot.files, revision);
    } catch (err) {
      return this.refuse(log, revision, 'LoadFailed', `the revision could not be loaded: ${(err as Error).message}`, []);
    }
    const validatedAt = performance.now();
    const errors = [...snapshot.errors, ...set.findings].filter((f) => f.severity === 'error');
    // A refused change (signed changes) left its file at the last good version: not a broken document.
    // A stray file is read by no one, wherever it lies: it cannot break the operator documents either.
    const operatorErrors = errors.filter((f) => isOperatorFile(f.file) && f.rule !== SIGNER_RULE && f.rule !== 'file-stray');
    if (operatorErrors.length > 0 && !flags.baseline) {
      const first = operatorErrors[0];
      const where = first ? `${first.file}:${first.line}: ${first.field ? `${first.field}: ` : ''}${first.message}` : '';
      return this.refuse(
        log,
        revision,
        'OperatorDocumentsInvalid',
        `the operator documents are not valid (${operatorErrors.length} error${operatorErrors.length === 1 ? '' : 's'}; first: ${where}); the previous revision is kept`,
        operatorErrors,
      );
    }

    // Per server: valid → applied; invalid now but good before → last-known-good with a condition.
    const errorsByFile = new Map<string, Finding[]>();
    for (const f of errors) errorsByFile.set(f.file, [...(errorsByFile.get(f.file) ?? []), f]);
    const next = new Map<string, AppliedServer>();
    const previous = this.servers;
    const keptLastGood: string[] = [];
    const attributed = new Set<string>();
    for (const [name, document] of set.servers) {
      // Its file's change was refused: the server runs on its last good manifest, and says why.
      const refused = (errorsByFile.get(document.file) ?? []).filter((f) => f.rule === SIGNER_RULE);
      if (refused.length > 0 && previous.has(name)) {
        attributed.add(document.file);
        keptLastGood.push(name);
        next.set(name, { name, document, revision, condition: { type: 'ManifestInvalid', revision, findings: refused } });
      } else {
        next.set(name, { name, document, revision });
      }
    }
    const removed: string[] = [];
    // After a restart, the servers applied before are not in memory: their saved last-good manifests are.
    const lastGood = this.options.lastGood;
    if (lastGood !== undefined && this.persisted === undefined) {
      try {
        this.persisted = await lastGood.load();
      } catch (err) {
        log.warn({ err }, 'last-good manifests could not be read');
        this.persisted = new Map();
      }
    }
    for (const [name, saved] of this.persisted ?? []) {
      if (next.has(name) || previous.has(name)) continue;
      const fileFindings = errorsByFile.get(saved.document.file);
      if (fileFindings === undefined || fileFindings.length === 0) continue;
      attributed.add(saved.document.file);
      next.set(name, { ...saved, condition: { type: 'ManifestInvalid', revision, findings: fileFindings } });
      keptLastGood.push(name);
    }
    for (const [name, before] of previous) {
      if (next.has(name)) continue;
      const fileFindings = errorsByFile.get(before.document.file);
      if (fileFindings && fileFindings.length > 0) {
        attributed.add(before.document.file);
        next.set(name, {
          name,
          document: before.document,
          revision: before.revision,
          condition: { type: 'ManifestInvalid', revision, findings: fileFindings },
        });
        keptLastGood.push(name);
      } else {
        removed.push(name);
      }
    }
    const added = [...next.keys()].filter((n) => !previous.has(n));
    const changed = [...set.servers.keys()].filter((n) => {
      const before = previous.get(n);
      const now = set.servers.get(n);
      // The same document object: the loader reused an unchanged file's (FileCheckCache).
      return before !== undefined && before.document !== now && JSON.stringify(before.document.doc) !== JSON.stringify(now?.doc);
    });

    if (!flags.confirmed && !flags.baseline) {
      const history = snapshot.history;
      if (history?.isRollback && this.options.holds.holdRollbacks && this.revision !== undefined) {
        return this.hold(log, snapshot, 'Rollback', `revision ${short(revision)} moves the branch back to an ancestor of ${short(this.revision)}`, removed);
      }
      const fraction = previous.size === 0 ? 0 : removed.length / previous.size;
      if (fraction > this.options.holds.maxRemovedFraction) {
        return this.hold(
          log,
          snapshot,
          'TooManyRemovals',
          `revision ${short(revision)} removes ${removed.length} of ${previous.size} servers, more than the ${Math.round(this.options.holds.maxRemovedFraction * 100)} % allowed without confirmation`,
          removed,
        );
      }
    }

    const judgedAt = performance.now();
    await this.options.sink.setDesired(revision, [...next.values()]);
    const sunkAt = performance.now();
    for (const name of removed) {
      try {
        await this.options.archiver?.archive(name);
      } catch (err) {
        log.warn({ err, server: name }, 'status of a removed server could not be archived');
      }
    }
    this.servers = next;
    this.revision = revision;
    this.appliedAt = this.now().toISOString();
    if (lastGood !== undefined) {
      this.persisted = new Map([...next].map(([n, s]) => [n, { name: n, document: s.document, revision: s.revision }]));
      void lastGood.save([...next.values()]).catch((err: unknown) => log.error({ err }, 'last-good manifests not saved'));
    }
    this.held = undefined;
    this.refused = undefined;
    this.findings = errors.filter((f) => !attributed.has(f.file));
    // Where the time went, for an operator asking why a commit took long to be watched: the
    // source's steps, the loader, this judgement, and handing the servers to the reconciler.
    const ms = { ...snapshot.timings, validate: validatedAt - started, judge: judgedAt - validatedAt, apply: sunkAt - judgedAt };
    log.info(
      {
        added: added.length,
        removed: removed.length,
        changed: changed.length,
        keptLastGood: keptLastGood.length,
        servers: next.size,
        ...(snapshot.objectsRead !== undefined ? { objectsRead: snapshot.objectsRead } : {}),
        ms: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round(v)])),
      },
      'revision applied',
    );
    await this.reportRefusals(revision, snapshot.refusals ?? [], [...next.values()]);
    return { result: 'applied', revision, added, removed, changed, keptLastGood };
  }

  private async refuse(log: Logger, revision: string, reason: RefuseReason, message: string, findings: Finding[]): Promise<ApplyOutcome> {
    const again = this.refused?.revision === revision;
    this.refused = { revision, reason, message, findings, at: this.now().toISOString() };
    if (!again) {
      log.warn({ reason, findings: findings.length, kept: this.revision }, 'revision refused');
      await this.report({ kind: 'revision-refused', revision, reason, message, findings, keptRevision: this.revision, at: this.now().toISOString() });
    }
    return { result: 'refused', revision, reason, message, findings };
  }

  private async hold(log: Logger, snapshot: Snapshot, reason: HoldReason, message: string, affected: string[]): Promise<ApplyOutcome> {
    const revision = snapshot.revision;
    const again = this.held?.info.revision === revision;
    const info: HeldRevision = again && this.held ? this.held.info : { revision, reason, message, affected, since: this.now().toISOString() };
    this.held = { info, snapshot };
    if (!again) {
      log.warn({ reason, affected: affected.length, kept: this.revision }, 'revision held until an operator confirms it');
      await this.report({ kind: 'revision-held', revision, reason, message, affected, keptRevision: this.revision, since: info.since });
    }
    return { result: 'held', revision, reason, message, affected };
  }

  /** Files refused for their signer: reported once, in the revision that first refuses them. */
  private async reportRefusals(revision: string, refusals: readonly ChangeRefusal[], servers: readonly AppliedServer[]): Promise<void> {
    const fresh = refusals.filter((r) => r.isNew);
    if (fresh.length === 0) return;
    await this.report({ kind: 'changes-refused', revision, refusals: fresh, servers: servers.map((s) => s.document.doc), at: this.now().toISOString() });
  }

  private async report(problem: RevisionProblem): Promise<void> {
    if (!this.options.onProblem) return;
    try {
      await this.options.onProblem(problem);
    } catch (err) {
      this.options.logger.warn({ err, kind: problem.kind }, 'revision problem could not be reported');
    }
  }
}

function short(revision: string): string {
  return revision.startsWith('sha256:') ? revision.slice(0, 19) : revision.slice(0, 12);
}
