/**
 * An SVG badge for a server, or one service of it (`/badge?server=web01&service=http`), for a
 * customer's own dashboard or README. It is drawn from the reader's view of the fleet (already
 * filtered by scope), so a name the reader may not see draws as "unknown", never as its state.
 * Pure.
 */
import { findServer } from '../../manifest/server-id.ts';
import type { ServerStatus } from '../../status/model.ts';
import { escapeHtml } from './html.ts';

const COLOURS = { up: '#2e7d32', degraded: '#b26a00', down: '#c62828', unknown: '#6b7280' } as const;
type Look = keyof typeof COLOURS;

function lookOfState(state: string): Look {
  if (state === 'Healthy' || state === 'Recovered') return 'up';
  if (state === 'Suspect' || state === 'Remediating') return 'degraded';
  if (state === 'Down' || state === 'Escalated') return 'down';
  return 'unknown';
}

const WORST: readonly Look[] = ['down', 'degraded', 'unknown', 'up'];

/** What the badge says: the service's state, or the server's worst service. */
export function badgeText(servers: readonly ServerStatus[], server: string, service: string | undefined): { label: string; message: string; look: Look } {
  // customer/name, or a bare name that one of the reader's customers alone has.
  const s = findServer(servers, server);
  // A name the reader may not see (or that nobody watches) is not echoed back.
  if (s === undefined) return { label: 'mamori', message: 'unknown', look: 'unknown' };
  const label = service === undefined ? server : `${server} ${service}`;
  if (service !== undefined) {
    const st = s.services[service];
    return st === undefined ? { label, message: 'unknown', look: 'unknown' } : { label, message: st.state.toLowerCase(), look: lookOfState(st.state) };
  }
  const looks = Object.values(s.services).map((x) => lookOfState(x.state));
  const look = WORST.find((l) => looks.includes(l)) ?? 'unknown';
  const message = look === 'up' ? 'up' : look === 'down' ? `${looks.filter((l) => l === 'down').length} down` : look;
  return { label, message, look };
}

/** Roughly 7 px a character at 11 px Verdana, as badges are usually measured. */
const width = (text: string): number => 10 + Math.ceil(text.length * 6.5);

export function renderBadge(text: { label: string; message: string; look: Look }): string {
  const label = escapeHtml(text.label.slice(0, 80));
  const message = escapeHtml(text.message.slice(0, 40));
  const lw = width(text.label.slice(0, 80));
  const mw = width(text.message.slice(0, 40));
  const w = lw + mw;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="20" role="img" aria-label="${label}: ${message}"><title>${label}: ${message}</title><rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${mw}" height="20" fill="${COLOURS[text.look]}"/><g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11"><text x="${lw / 2}" y="14">${label}</text><text x="${lw + mw / 2}" y="14">${message}</text></g></svg>`;
}
