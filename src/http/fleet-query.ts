/**
 * One query over the fleet for the status page and `GET /api/servers`: which servers match (a
 * customer, a search text, a state), in which order (the servers in trouble first, then by name),
 * and which bounded slice of them is shown. A fleet of 10,000 servers is never rendered or sent
 * whole: a page holds at most `MAX_LIMIT` rows, whatever the fleet's size.
 *
 * The search text is hostile customer text: it is matched as a plain substring of the server's id
 * (customer/name), lower-cased, never as a pattern; it is bounded in length.
 *
 * Pure: no I/O, no node: imports.
 */
import { serverIdOf } from '../manifest/server-id.ts';
import type { ServerStatus } from '../status/model.ts';

/** The rows of one page of the fleet when nobody asks for another number. */
export const DEFAULT_LIMIT = 100;
/** The most rows one page or one `/api/servers` answer holds. */
export const MAX_LIMIT = 500;
/** The longest search text taken. */
export const MAX_SEARCH = 64;

/** The states a service can be in, best to worst; the rank orders the fleet (worst first). */
const RANK: Readonly<Record<string, number>> = { Healthy: 0, Recovered: 1, Unknown: 2, Suspect: 3, Remediating: 4, Down: 5, Escalated: 6 };
export const STATE_FILTERS = ['problems', 'Escalated', 'Down', 'Remediating', 'Suspect', 'Unknown', 'Recovered', 'Healthy'] as const;
/** `problems`: a service Suspect or worse, or an open incident; a state name: a service in that state. */
export type StateFilter = (typeof STATE_FILTERS)[number];

export interface FleetQuery {
  customer?: string;
  /** Lower-cased, trimmed, at most MAX_SEARCH characters; empty is no search. */
  search?: string;
  state?: StateFilter;
  offset: number;
  limit: number;
}

export interface FleetSlice {
  /** Servers in the reader's view before this query's filters. */
  total: number;
  /** Servers that match the query (all pages). */
  matched: number;
  /** Servers of the view with a problem (whatever the query). */
  problems: number;
  offset: number;
  limit: number;
  /** This page's servers, worst first. */
  servers: ServerStatus[];
}

/** The worst state among a server's services, as a rank (0 healthy … 6 escalated). */
export function worstRank(s: ServerStatus): number {
  let worst = 0;
  for (const k in s.services) {
    const r = RANK[s.services[k]?.state ?? ''] ?? 2;
    if (r > worst) worst = r;
  }
  return worst;
}

export function hasProblem(s: ServerStatus): boolean {
  return worstRank(s) >= 3 || s.incidents.open.length > 0;
}

function inState(s: ServerStatus, state: StateFilter): boolean {
  if (state === 'problems') return hasProblem(s);
  for (const k in s.services) if (s.services[k]?.state === state) return true;
  return false;
}

export function isStateFilter(v: string): v is StateFilter {
  return (STATE_FILTERS as readonly string[]).includes(v);
}

/** A search text as matched: trimmed, lower-cased, bounded. */
export function normaliseSearch(text: string): string {
  return text.trim().slice(0, MAX_SEARCH).toLowerCase();
}

const byName = new Intl.Collator('en', { numeric: true });

/** The matching servers, worst first then by name, and the slice [offset, offset + limit). */
export function queryFleet(servers: readonly ServerStatus[], query: FleetQuery): FleetSlice {
  const search = query.search !== undefined && query.search !== '' ? query.search : undefined;
  let total = 0;
  let problems = 0;
  const matched: Array<{ s: ServerStatus; rank: number; id: string }> = [];
  for (const s of servers) {
    if (query.customer !== undefined && s.metadata.customer !== query.customer) continue;
    total++;
    const rank = worstRank(s);
    const problem = rank >= 3 || s.incidents.open.length > 0;
    if (problem) problems++;
    if (query.state !== undefined && !(query.state === 'problems' ? problem : inState(s, query.state))) continue;
    const id = serverIdOf(s);
    if (search !== undefined && !id.toLowerCase().includes(search)) continue;
    // An open incident counts as a problem even when its services read healthy again.
    matched.push({ s, rank: problem && rank < 3 ? 3 : rank, id });
  }
  matched.sort((a, b) => b.rank - a.rank || byName.compare(a.s.metadata.name, b.s.metadata.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const limit = Math.max(1, Math.min(MAX_LIMIT, Math.floor(query.limit)));
  const offset = Math.max(0, Math.floor(query.offset));
  return { total, matched: matched.length, problems, offset, limit, servers: matched.slice(offset, offset + limit).map((m) => m.s) };
}

/** A bad parameter of `/api/servers`, named. */
export class FleetQueryError extends Error {}

function intParam(params: URLSearchParams, name: string, min: number, max: number, fallback: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^[0-9]{1,9}$/.test(raw)) throw new FleetQueryError(`${name}: "${raw.slice(0, 20)}" is not a whole number`);
  const n = Number(raw);
  if (n < min || n > max) throw new FleetQueryError(`${name}: ${n} is outside ${min}..${max}`);
  return n;
}

/**
 * `/api/servers`'s parameters: customer, q (search, at most MAX_SEARCH characters), state (one of
 * STATE_FILTERS), offset, limit (1..MAX_LIMIT). Anything else wrong is a FleetQueryError naming it.
 */
export function parseFleetQuery(params: URLSearchParams): FleetQuery {
  const q = params.get('q') ?? '';
  if (q.length > MAX_SEARCH) throw new FleetQueryError(`q: longer than ${MAX_SEARCH} characters`);
  const state = params.get('state') ?? '';
  if (state !== '' && !isStateFilter(state)) throw new FleetQueryError(`state: "${state.slice(0, 20)}" is not one of ${STATE_FILTERS.join(', ')}`);
  const customer = params.get('customer') ?? '';
  return {
    ...(customer !== '' ? { customer } : {}),
    ...(q.trim() !== '' ? { search: normaliseSearch(q) } : {}),
    ...(state !== '' ? { state: state as StateFilter } : {}),
    offset: intParam(params, 'offset', 0, 1_000_000_000, 0),
    limit: intParam(params, 'limit', 1, MAX_LIMIT, DEFAULT_LIMIT),
  };
}
