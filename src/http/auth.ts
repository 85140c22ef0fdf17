/**
 * Who is asking (a token, the local socket, or a loopback client when no token exists) and
 * whether the request may be believed (its Host, its Origin). What each principal may reach and
 * see is scope.ts.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { MamoriError } from '../errors.ts';
import type { Principal, Scope } from './scope.ts';

/** Shorter secrets are refused at start: a token is the only thing between a browser and the fleet. */
export const MIN_TOKEN_LENGTH = 16;

/** Compare two secrets in constant time whatever their lengths (hash both first). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** Exactly `sha256=` and 64 hex digits: anything after them (or before) is refused, not ignored. */
const HUB_SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

/** Whether the header has the shape of a signature at all (checked before the body is read). */
export function isHubSignatureShaped(header: string | undefined): header is string {
  return header !== undefined && HUB_SIGNATURE.test(header);
}

/** `X-Hub-Signature-256: sha256=<hex of HMAC-SHA256(secret, raw body)>`, GitHub's convention. */
export function verifyHubSignature(secret: string, body: Buffer, header: string | undefined): boolean {
  const match = header === undefined ? null : HUB_SIGNATURE.exec(header);
  if (!match?.[1]) return false;
  const given = Buffer.from(match[1], 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function signHubBody(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header || header.length > 4096) return undefined;
  const match = /^Bearer[ \t]+([!-~]+)[ \t]*$/i.exec(header);
  return match?.[1];
}

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(plain) === 4) return plain.startsWith('127.');
  return plain === '::1';
}

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  return isLoopbackAddress(host.replace(/^\[|\]$/g, ''));
}

/** A token as configured: its scope, the customer for a customer token, and a name for logs (its secretRef, never the value). */
export interface TokenGrant {
  scope: Scope;
  customer?: string;
  name: string;
  token: string;
}

interface StoredGrant {
  hash: Buffer;
  principal: Principal;
}

function principalOf(grant: TokenGrant): Principal {
  switch (grant.scope) {
    case 'operator':
      return { scope: 'operator', via: 'token', name: grant.name };
    case 'customer':
      if (grant.customer === undefined) throw new MamoriError('MAMORI_CONFIG_INVALID', `http.tokens: the customer token ${grant.name} names no customer`);
      return { scope: 'customer', customer: grant.customer, name: grant.name };
    case 'agent':
      return { scope: 'agent', name: grant.name };
    case 'metrics':
      return { scope: 'metrics', name: grant.name };
  }
}

/**
 * The configured tokens, kept only as SHA-256 digests. A presented token is hashed and compared
 * with every digest in constant time (no early exit, no map keyed by the secret), so neither its
 * length nor which entry it is near shows in the time of the answer.
 */
export class TokenTable {
  private readonly grants: readonly StoredGrant[];

  private constructor(grants: readonly StoredGrant[]) {
    this.grants = grants;
  }

  static from(grants: readonly TokenGrant[]): TokenTable {
    const stored: StoredGrant[] = [];
    for (const g of grants) {
      if (g.token.length < MIN_TOKEN_LENGTH) {
        throw new MamoriError('MAMORI_CONFIG_INVALID', `http.tokens: the secret ${g.name} (scope ${g.scope}) is shorter than ${MIN_TOKEN_LENGTH} characters`);
      }
      const hash = createHash('sha256').update(g.token).digest();
      const twin = stored.find((s) => timingSafeEqual(s.hash, hash));
      if (twin !== undefined) {
        throw new MamoriError('MAMORI_CONFIG_INVALID', `http.tokens: the secrets ${twin.principal.name} and ${g.name} hold the same token: each scope needs its own`);
      }
      stored.push({ hash, principal: principalOf(g) });
    }
    return new TokenTable(stored);
  }

  static empty(): TokenTable {
    return new TokenTable([]);
  }

  get size(): number {
    return this.grants.length;
  }

  lookup(token: string): Principal | undefined {
    const hash = createHash('sha256').update(token).digest();
    let found: Principal | undefined;
    for (const g of this.grants) {
      if (timingSafeEqual(g.hash, hash) && found === undefined) found = g.principal;
    }
    return found;
  }
}

/** `Host` as sent: a name or an address, and an optional port; nothing else (no user info, no path). */
const HOST_HEADER = /^(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,253})(?::[0-9]{1,5})?$/;

/** The host name of a `Host` header, lower-cased, IPv6 without brackets; undefined when it is not a host at all. */
export function hostNameOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = HOST_HEADER.exec(header);
  if (!match?.[1]) return undefined;
  return match[1].replace(/^\[|\]$/g, '').toLowerCase();
}

function plainAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  return (address.startsWith('::ffff:') ? address.slice(7) : address).toLowerCase();
}

/**
 * DNS rebinding: a page from evil.example whose name now resolves to 127.0.0.1 reaches us with
 * `Host: evil.example`. Answer only for names that cannot be rebound against us: localhost, the
 * address the client actually connected to (or the configured listen address), and the
 * operator's public names.
 */
export function hostAllowed(header: string | undefined, options: { listenHost: string; localAddress: string | undefined; publicHosts: readonly string[] }): boolean {
  const name = hostNameOf(header);
  if (name === undefined) return false;
  if (name === 'localhost') return true;
  const listen = plainAddress(options.listenHost);
  if (isIP(name) !== 0) return name === plainAddress(options.localAddress) || (listen !== '0.0.0.0' && listen !== '::' && name === listen);
  return options.publicHosts.includes(name.replace(/\.$/, ''));
}

/** Whether the Host names the loopback itself (not a public name a local proxy forwards). */
export function hostIsLoopback(header: string | undefined): boolean {
  const name = hostNameOf(header);
  return name !== undefined && isLoopbackHost(name);
}

/**
 * A state-changing request from a browser: refused unless it comes from our own origin. No
 * `Origin` (curl, the CLI, a webhook) is fine; `Origin: null` (a sandboxed frame, a file) is not.
 * `Sec-Fetch-Site` is a second witness where browsers send it.
 */
export function crossSiteReason(req: IncomingMessage): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site is ${String(site)}`;
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  let originHost: string;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    return 'the Origin is not a URL';
  }
  const host = (req.headers.host ?? '').toLowerCase();
  return originHost !== '' && originHost === host ? undefined : 'the Origin is another site';
}

/** `application/json`, with or without parameters: a cross-site form cannot send it without a preflight. */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const type = header.split(';', 1)[0]?.trim().toLowerCase();
  return type === 'application/json';
}

/** The page's cookie: the token a browser was given once by `?token=` (HttpOnly, SameSite=Strict). */
export const TOKEN_COOKIE = 'mamori_token';

export function tokenFromCookie(header: string | undefined): string | undefined {
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === TOKEN_COOKIE) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** The config's tokens (http.token is the operator's), each resolved from its secret and hashed. */
export async function tokenTableOf(http: { token?: { secretRef: string } | undefined; tokens: readonly { scope: Scope; customer?: string | undefined; secretRef: string }[] }, resolve: (ref: { secretRef: string }) => Promise<string>): Promise<TokenTable> {
  const entries = [...(http.token !== undefined ? [{ scope: 'operator' as const, secretRef: http.token.secretRef }] : []), ...http.tokens];
  const grants: TokenGrant[] = [];
  for (const e of entries) {
    const token = await resolve({ secretRef: e.secretRef });
    grants.push({ scope: e.scope, name: e.secretRef, token, ...('customer' in e && e.customer !== undefined ? { customer: e.customer } : {}) });
  }
  return TokenTable.from(grants);
}
