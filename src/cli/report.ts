/**
 * `mamori report --customer C --month YYYY-MM [--format markdown|html|json] [--email]`: the
 * monthly report from the state folder's journal (see src/report/compute.ts for how each second
 * is counted), the contacts and customers from the manifests. `--email` sends one message per
 * contact through an outbox of its own (`<stateDir>/report-outbox`, under its own lock, so it never
 * races the daemon's): a message that cannot be delivered now stays queued for the next run, and
 * a report already sent is not sent twice.
 */
import { writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { MamoriConfig } from '../config/types.ts';
import { isMamoriError } from '../errors.ts';
import type { DesiredReportServer } from '../report/compute.ts';
import type { reportNotifications } from '../report/email.ts';

/** What the command runs, loaded at its first use and not at the top: `mamori --help` should not pay for nodemailer, pino and the parsers. */
async function libs() {
  const modules = await Promise.all([
    import('../config/load-config.ts'),
    import('../log.ts'),
    import('../manifest/load-manifests.ts'),
    import('../notify/outbox.ts'),
    import('../notify/smtp-relay.ts'),
    import('../report/compute.ts'),
    import('../report/coverage-recorder.ts'),
    import('../report/email.ts'),
    import('../report/format-html.ts'),
    import('../report/format-markdown.ts'),
    import('../secrets/resolve-secret.ts'),
    import('../status/journal.ts'),
    import('../status/lock.ts'),
  ]);
  const [config, log, manifests, outbox, relay, compute, coverage, email, html, markdown, secrets, journal, lock] = modules;
  return { ...config, ...log, ...manifests, ...outbox, ...relay, ...compute, ...coverage, ...email, ...html, ...markdown, ...secrets, ...journal, ...lock };
}

export type ReportFormat = 'markdown' | 'html' | 'json';

export interface ReportOptions {
  customer: string;
  month: string;
  format: ReportFormat;
  email: boolean;
  output?: string;
  manifests: string;
  config?: string | undefined;
  /** Replicas: the other replicas' state folders (copies, or mounted), whose journals count too. */
  journals?: readonly string[];
  /** The report's time (tests); now by default. */
  now?: number;
}

export interface ReportDeps {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  cwd?: string;
}

const HELP = `
How time is counted: up = Healthy/Recovered, down = Suspect/Down/Remediating/Escalated, from the
journal's transitions. Time mamori could not see is UNKNOWN, never up: before a server was added
and after it was removed (the daemon journals the applied servers), and while the daemon was not
running (its start/stop records and a heartbeat every 5 minutes; a silence over 10 minutes counts
whole). Availability = up / (up + down). Months run from 00:00 UTC.
With replicas, give every replica's journal (--journal for each other replica's state folder):
each says which servers it watched; time no replica watched a server is unknown, never up.

Examples:
  $ mamori report --customer acme --month 2026-10
  $ mamori report --customer acme --month 2026-10 --format html --output acme-2026-10.html
  $ mamori report --customer acme --month 2026-10 --email      # to each server's contact (ja/en)
  $ mamori report --customer acme --month 2026-10 --journal /srv/mamori-b/state --journal /srv/mamori-c/state`;

async function desiredServers(root: string, config: MamoriConfig, stderr: NodeJS.WritableStream): Promise<DesiredReportServer[]> {
  const { loadManifests, desiredReportServerOf } = await libs();
  try {
    const set = await loadManifests(root, { config });
    return [...set.servers.values()].map(({ doc }) => desiredReportServerOf(doc));
  } catch (err) {
    // The journal alone still gives the figures; only contacts (for --email) are missing.
    stderr.write(`mamori report: the manifests in ${root} could not be read (${(err as Error).message}); servers are taken from the journal\n`);
    return [];
  }
}

async function sendReport(config: MamoriConfig, mails: ReturnType<typeof reportNotifications>['mails'], stderr: NodeJS.WritableStream): Promise<{ sent: number; queued: number; failed: number }> {
  const { acquireStateLock, Outbox, mailIdentityOf, smtpOptionsOf, resolveSecret, silentLogger } = await libs();
  const dir = join(config.stateDir, 'report-outbox');
  const lock = await acquireStateLock(dir, { purpose: 'report' });
  try {
    const smtp = config.mail.smtp;
    const outbox = await Outbox.open(
      {
        dir: join(dir, 'outbox'),
        ...mailIdentityOf(config.mail),
        ...(smtp ? { smtp: await smtpOptionsOf(smtp, (ref) => resolveSecret(ref, config)) } : {}),
      },
      { logger: silentLogger() },
    );
    for (const m of mails) {
      const r = await outbox.enqueue(m.notification);
      if (r === 'duplicate') stderr.write(`mamori report: the report to ${m.to} was already queued or sent; not sent again\n`);
    }
    const pass = await outbox.runOnce();
    const left = outbox.stats().pending;
    await outbox.stop();
    return { sent: pass.sent, queued: left, failed: pass.failed };
  } finally {
    await lock.release();
  }
}

export async function runReport(options: ReportOptions, deps: ReportDeps = {}): Promise<number> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const cwd = deps.cwd ?? process.cwd();
  const { monthBounds, loadConfig, readJournal, computeMonthlyReport, formatReportHtml, formatReportMarkdown, reportNotifications } = await libs();
  try {
    monthBounds(options.month, 'UTC');
  } catch {
    stderr.write(`mamori report: --month must be YYYY-MM, not "${options.month}"\n`);
    return 2;
  }
  let config: MamoriConfig;
  try {
    config = await loadConfig(options.config, { cwd });
  } catch (err) {
    if (isMamoriError(err)) {
      stderr.write(`mamori report: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const root = config.source.type === 'folder' && options.manifests === 'manifests' ? config.source.path : resolvePath(cwd, options.manifests);
  const desired = await desiredServers(root, config, stderr);
  const { records, torn } = await readJournal(config.stateDir);
  if (torn > 0) stderr.write(`mamori report: ${torn} unreadable journal line(s) skipped\n`);
  // Replicas: each replica's journal accounts for the servers it watched.
  const journals = [records];
  for (const given of options.journals ?? []) {
    const dir = resolvePath(cwd, given);
    const stateDir = basename(dir) === 'journal' ? dirname(dir) : dir;
    const other = await readJournal(stateDir);
    if (other.records.length === 0) {
      stderr.write(`mamori report: --journal ${given}: no journal there (give a replica's state folder, holding journal/journal-*.jsonl)\n`);
      return 2;
    }
    if (other.torn > 0) stderr.write(`mamori report: ${given}: ${other.torn} unreadable journal line(s) skipped\n`);
    journals.push(other.records);
  }
  const now = options.now ?? Date.now();
  if (now < monthBounds(options.month, config.mail.timeZone).start) {
    stderr.write(`mamori report: ${options.month} has not begun\n`);
    return 2;
  }
  const report = computeMonthlyReport({ journals, customer: options.customer, month: options.month, desired, now, timeZone: config.mail.timeZone });
  if (report.missingJournals !== undefined) {
    stderr.write(`mamori report: the journals of replica(s) ${report.missingJournals.join(', ')} were not given (--journal DIR): the time only they watched counts as unknown\n`);
  }
  if (report.servers.length === 0) stderr.write(`mamori report: no server of customer "${options.customer}" was watched in ${options.month}\n`);

  const text = options.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : options.format === 'html' ? formatReportHtml(report) : formatReportMarkdown(report);
  if (options.output !== undefined) await writeFile(resolvePath(cwd, options.output), text);
  else stdout.write(text);

  if (!options.email) return 0;
  const { mails, withoutContact } = reportNotifications(report);
  if (withoutContact.length > 0) stderr.write(`mamori report: no contact in the manifests for ${withoutContact.join(', ')}: not e-mailed\n`);
  if (mails.length === 0) return 1;
  const result = await sendReport(config, mails, stderr);
  stderr.write(`mamori report: e-mail to ${mails.map((m) => m.to).join(', ')}: ${result.sent} sent, ${result.queued} waiting for the relay, ${result.failed} refused\n`);
  return result.failed > 0 || result.queued > 0 ? 1 : 0;
}

function parseFormat(value: string): ReportFormat {
  if (value === 'markdown' || value === 'html' || value === 'json') return value;
  throw new InvalidArgumentError('markdown, html or json');
}

export function registerReportCommand(program: Command, deps: ReportDeps = {}): void {
  program
    .command('report')
    .description('The monthly report of a customer: availability per server and service, incidents with time to recovery, actions taken.')
    .requiredOption('--customer <name>', 'the customer (metadata.customer of its servers)')
    .requiredOption('--month <YYYY-MM>', 'the month, in the zone of mail.timeZone (Asia/Tokyo by default)')
    .option('--format <format>', 'markdown, html or json', parseFormat, 'markdown' as ReportFormat)
    .option('--output <file>', 'write the report to FILE instead of stdout')
    .option('--email', "send it to each server's contact (Japanese or English by the contact's locale)")
    .option('--journal <dir>', "replicas: another replica's state folder, whose journal counts too (repeat for each)", (v: string, prev: string[] = []) => [...prev, v])
    .addHelpText('after', HELP)
    .action(async (opts: { customer: string; month: string; format: ReportFormat; output?: string; email?: boolean; journal?: string[] }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<{ manifests?: string; config?: string }>();
      process.exitCode = await runReport(
        {
          customer: opts.customer,
          month: opts.month,
          format: opts.format,
          email: opts.email === true,
          manifests: globals.manifests ?? 'manifests',
          config: globals.config,
          ...(opts.output !== undefined ? { output: opts.output } : {}),
          ...(opts.journal !== undefined ? { journals: opts.journal } : {}),
        },
        deps,
      );
    });
}
