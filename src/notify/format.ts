/**
 * Dates, durations and labels for e-mails. Assembled from numeric parts rather than a locale's
 * formatter so that the text (and the committed fixtures) does not change with the ICU version.
 */
import type { FailureKind, ServiceName } from '../vocabulary.ts';
import type { Locale, LocalizedText } from './types.ts';

const MONTHS_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

interface Parts {
  year: string;
  month: string;
  day: string;
  hour: string;
  minute: string;
  second: string;
  zone: string;
}

function parts(ms: number, timeZone: string): Parts {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'longOffset',
  });
  const p: Record<string, string> = {};
  for (const part of fmt.formatToParts(new Date(ms))) p[part.type] = part.value;
  const offset = (p.timeZoneName ?? 'GMT').replace(/^GMT/, '') || '+00:00';
  const zone = timeZone === 'Asia/Tokyo' ? 'JST' : offset === '+00:00' ? 'UTC' : `UTC${offset}`;
  return {
    year: p.year ?? '',
    month: p.month ?? '',
    day: p.day ?? '',
    hour: p.hour ?? '',
    minute: p.minute ?? '',
    second: p.second ?? '',
    zone,
  };
}

/** `2026年11月26日 03:12:05 (JST)` / `26 Nov 2026 03:12:05 JST`; an unparsable value is shown as given. */
export function formatDateTime(iso: string, locale: Locale, timeZone: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const p = parts(ms, timeZone);
  if (locale === 'ja') return `${p.year}年${Number(p.month)}月${Number(p.day)}日 ${p.hour}:${p.minute}:${p.second} (${p.zone})`;
  return `${Number(p.day)} ${MONTHS_EN[Number(p.month) - 1] ?? p.month} ${p.year} ${p.hour}:${p.minute}:${p.second} ${p.zone}`;
}

/** Time of day only (for lists inside one message): `03:12:05`. */
export function formatTime(iso: string, timeZone: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const p = parts(ms, timeZone);
  return `${p.hour}:${p.minute}:${p.second}`;
}

/** Downtime as a person says it: seconds under a minute, otherwise rounded to the minute ("about"). */
export function formatDuration(ms: number, locale: Locale): string {
  if (!Number.isFinite(ms) || ms < 0) return locale === 'ja' ? '不明' : 'unknown';
  const totalSeconds = Math.round(ms / 1000);
  if (totalSeconds < 60) return locale === 'ja' ? `${totalSeconds} 秒` : `${totalSeconds} second${totalSeconds === 1 ? '' : 's'}`;
  const totalMinutes = Math.round(totalSeconds / 60);
  const hours = Math.floor(totalMinutes / 60);
  const minutes = totalMinutes % 60;
  if (locale === 'ja') {
    if (hours === 0) return `約 ${minutes} 分`;
    return minutes === 0 ? `約 ${hours} 時間` : `約 ${hours} 時間 ${minutes} 分`;
  }
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (hours === 0) return `about ${unit(minutes, 'minute')}`;
  return minutes === 0 ? `about ${unit(hours, 'hour')}` : `about ${unit(hours, 'hour')} ${unit(minutes, 'minute')}`;
}

export function localized(text: LocalizedText, locale: Locale): string {
  return typeof text === 'string' ? text : text[locale];
}

const SERVICE_LABELS: Record<ServiceName, string> = {
  ping: 'PING (ICMP)',
  http: 'HTTP (80/tcp)',
  https: 'HTTPS (443/tcp)',
  ftp: 'FTP (21/tcp)',
  ssh: 'SSH (22/tcp)',
  telnet: 'TELNET (23/tcp)',
  smtp: 'SMTP (25/tcp)',
  pop3: 'POP3 (110/tcp)',
  imap: 'IMAP (143/tcp)',
  smtps: 'SMTPS (465/tcp)',
  pop3s: 'POP3S (995/tcp)',
  imaps: 'IMAPS (993/tcp)',
};

/**
 * Short name for subjects (`http`), long for bodies (`HTTP (80/tcp)`); with `port`, the port the
 * service is really watched on (`HTTP (18081/tcp)`), so a customer opens the right one.
 */
export function serviceLabel(service: ServiceName, port?: number): string {
  const label = SERVICE_LABELS[service] ?? String(service).toUpperCase();
  return port === undefined ? label : label.replace(/\(\d+\/tcp\)$/, `(${port}/tcp)`);
}

const FAILURE_JA: Record<FailureKind, string> = {
  timeout: '応答がなく、タイムアウトしました',
  refused: '接続が拒否されました',
  reset: '接続が切断されました',
  unreachable: 'サーバに到達できませんでした',
  tls: 'SSL/TLS の接続を確立できませんでした',
  protocol: '想定外の応答が返りました',
  error: '接続中にエラーが発生しました',
};

const FAILURE_EN: Record<FailureKind, string> = {
  timeout: 'there was no answer (timed out)',
  refused: 'the connection was refused',
  reset: 'the connection was reset',
  unreachable: 'the server could not be reached',
  tls: 'the SSL/TLS connection could not be established',
  protocol: 'the server answered, but not as expected',
  error: 'an error occurred while connecting',
};

export function failureLabel(kind: FailureKind, locale: Locale): string {
  return (locale === 'ja' ? FAILURE_JA : FAILURE_EN)[kind] ?? kind;
}

/** Display width in a monospaced font: East Asian wide characters take two columns. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    const wide =
      (c >= 0x1100 && c <= 0x115f) ||
      (c >= 0x2e80 && c <= 0xa4cf) ||
      (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) ||
      (c >= 0xfe30 && c <= 0xfe4f) ||
      (c >= 0xff00 && c <= 0xff60) ||
      (c >= 0xffe0 && c <= 0xffe6);
    width += wide ? 2 : 1;
  }
  return width;
}

/** A ping has no connection: its failures are said as echoes that did not come back. */
const PING_FAILURE_JA: Partial<Record<FailureKind, string>> = {
  timeout: '時間内に応答がありませんでした',
  unreachable: 'サーバまでの経路がなく、到達できませんでした',
  protocol: '想定外の応答が返りました',
};

const PING_FAILURE_EN: Partial<Record<FailureKind, string>> = {
  timeout: 'no reply came back in time',
  unreachable: 'there was no route to the server',
  protocol: 'an unexpected reply came back',
};

export function pingFailureLabel(kind: FailureKind, locale: Locale): string {
  return (locale === 'ja' ? PING_FAILURE_JA : PING_FAILURE_EN)[kind] ?? (locale === 'ja' ? '応答がありませんでした' : 'no reply came back');
}

/**
 * How a mail names a server: customer/name, as everywhere else (two customers may each have a
 * web01; the operator's copy must say whose). A server with no customer carries its name as the
 * customer (hand-built documents only) and is named alone.
 */
export function serverLabel(server: { name: string; customer: string }): string {
  return server.customer !== '' && server.customer !== server.name ? `${server.customer}/${server.name}` : server.name;
}
