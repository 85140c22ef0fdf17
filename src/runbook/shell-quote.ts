/**
 * Quoting of manifest values spliced into runbook commands. A value is left bare only
 * when it is made of characters no POSIX shell treats specially (so the seed's plain
 * commands render unchanged); anything else goes in single quotes, inside which the
 * shell interprets nothing, and a single quote is written as '\'' . A quoted value can
 * therefore never end the quoting, start a command, expand a variable or glob.
 */
const BARE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuote(value: string): string {
  if (value.length > 0 && BARE.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
