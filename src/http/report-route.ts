/**
 * `GET /report?month=YYYY-MM[&customer=C][&format=html|json|markdown]`: the monthly report
 * (src/report/compute.ts) from the running daemon's journal. A customer token gets its own
 * customer's report and no other (`customer=` may only repeat it); the operator names the
 * customer. One report is computed at a time (it reads the whole journal); another request
 * meanwhile is told to come back. With replicas the route reads every live replica's journal too
 * (`peerJournals`, over their `GET /api/journal`).
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { computeMonthlyReport, monthBounds, type DesiredReportServer } from '../report/compute.ts';
import { formatReportHtml } from '../report/format-html.ts';
import { formatReportMarkdown } from '../report/format-markdown.ts';
import { readJournal, type JournalRecord } from '../status/journal.ts';
import { canSee } from './scope.ts';
import { HttpError, sendJson, type HttpServer } from './server.ts';

export interface ReportRouteOptions {
  stateDir: string;
  /**
   * Replicas: the other replicas' journals (read over their APIs), so that the report counts
   * every replica's watching; a replica that does not answer is left out (the report names it).
   */
  peerJournals?: () => Promise<JournalRecord[][]>;
  /** The applied servers (their contacts, and the customer of a server not journaled yet). */
  servers(): readonly DesiredReportServer[];
  now?: () => number;
  /** The zone whose months are reported (config mail.timeZone); UTC when not given. */
  timeZone?: string;
}

const FORMATS = new Set(['html', 'json', 'markdown']);

function refuseText(res: ServerResponse, status: number, why: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(`${why}\n`);
}

export function registerReportRoute(http: HttpServer, options: ReportRouteOptions): void {
  const now = options.now ?? Date.now;
  let busy = false;
  http.route(
    'GET',
    '/report',
    async (_req, res, { url, view }) => {
      const at = now();
      const month = url.searchParams.get('month') ?? new Date(at).toISOString().slice(0, 7);
      let start: number;
      try {
        start = monthBounds(month, options.timeZone ?? 'UTC').start;
      } catch {
        throw new HttpError(400, 'month must be YYYY-MM');
      }
      if (start > at) throw new HttpError(400, `${month} has not begun`);
      const format = url.searchParams.get('format') ?? 'html';
      if (!FORMATS.has(format)) throw new HttpError(400, 'format must be html, json or markdown');
      const asked = url.searchParams.get('customer') ?? undefined;
      let customer: string;
      if (view.kind === 'customer') {
        if (asked !== undefined && asked !== view.customer) throw new HttpError(403, "a customer token reads its own customer's report only");
        customer = view.customer;
      } else if (view.kind === 'all') {
        if (asked === undefined || asked === '') throw new HttpError(400, 'name the customer: /report?customer=C&month=YYYY-MM');
        customer = asked;
      } else {
        throw new HttpError(403, 'this token does not read reports');
      }
      if (busy) throw new HttpError(503, 'a report is being computed; try again in a few seconds', { 'retry-after': '5' });
      busy = true;
      let journals: JournalRecord[][];
      try {
        const [{ records }, others] = await Promise.all([readJournal(options.stateDir), options.peerJournals?.() ?? Promise.resolve([])]);
        journals = [records, ...others];
      } finally {
        busy = false;
      }
      const desired = options.servers().filter((s) => canSee(view, s) && s.customer === customer);
      const report = computeMonthlyReport({ journals, customer, month, desired, now: at, timeZone: options.timeZone ?? 'UTC' });
      if (format === 'json') {
        sendJson(res, 200, report);
        return;
      }
      if (format === 'markdown') {
        res.writeHead(200, { 'content-type': 'text/markdown; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
        res.end(formatReportMarkdown(report));
        return;
      }
      const nonce = randomBytes(12).toString('base64');
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; script-src 'nonce-${nonce}'`,
        'referrer-policy': 'no-referrer',
      });
      res.end(formatReportHtml(report));
    },
    'read',
    { page: { refuse: refuseText } },
  );
}

/**
 * `GET /api/journal`: this replica's whole journal, for another replica's monthly report (replicas:
 * each journal accounts for the servers its replica watched). The operator's only (it holds every
 * customer's servers); compact JSON `{ records }`.
 */
export function registerJournalRoute(http: HttpServer, options: { stateDir: string }): void {
  http.route('GET', '/api/journal', async (_req, res, { view }) => {
    if (view.kind !== 'all') throw new HttpError(403, "the journal is the operator's to read");
    const { records } = await readJournal(options.stateDir);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(JSON.stringify({ ok: true, records }));
  });
}
