/** How each service state reads on the page: its colour class, a symbol and words (never colour alone). */
export interface StateLook {
  cls: string;
  symbol: string;
  words: string;
  rank: number;
}

const LOOKS: Record<string, StateLook> = {
  Healthy: { cls: 'ok', symbol: '✓', words: 'answering', rank: 0 },
  Recovered: { cls: 'recovered', symbol: '✓', words: 'recovered', rank: 1 },
  Unknown: { cls: 'unknown', symbol: '?', words: 'not probed yet', rank: 2 },
  Suspect: { cls: 'suspect', symbol: '!', words: 'a probe failed', rank: 3 },
  Remediating: { cls: 'remediating', symbol: '↻', words: 'runbook running', rank: 4 },
  Down: { cls: 'down', symbol: '✕', words: 'not answering', rank: 5 },
  Escalated: { cls: 'escalated', symbol: '⚑', words: 'needs a person', rank: 6 },
};

export function lookOf(state: string): StateLook {
  return LOOKS[state] ?? { cls: 'unknown', symbol: '?', words: state, rank: 2 };
}

export const STATE_ORDER = ['Healthy', 'Recovered', 'Unknown', 'Suspect', 'Remediating', 'Down', 'Escalated'];

/** The canonical column order of services; others follow alphabetically. */
export const SERVICE_ORDER = ['ping', 'ssh', 'http', 'https', 'smtp', 'smtps', 'pop3', 'pop3s', 'imap', 'imaps', 'ftp', 'telnet'];

export function sortServices(names: Iterable<string>): string[] {
  const rank = (s: string): number => {
    const i = SERVICE_ORDER.indexOf(s);
    return i < 0 ? SERVICE_ORDER.length : i;
  };
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
