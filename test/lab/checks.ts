import { run } from './run.ts';

/** The monitoring-plugins checks a lab host answers, as Nagios would run them against it. */
export const PLUGIN_DIR = '/usr/lib/nagios/plugins';

export interface PluginCheck {
  name: string;
  plugin: string;
  args: (address: string) => string[];
}

export const STANDARD_CHECKS: readonly PluginCheck[] = [
  { name: 'ssh', plugin: 'check_ssh', args: (a) => ['-H', a] },
  { name: 'http', plugin: 'check_http', args: (a) => ['-H', a] },
  { name: 'https', plugin: 'check_http', args: (a) => ['-S', '-H', a] },
  { name: 'ftp', plugin: 'check_ftp', args: (a) => ['-H', a] },
  { name: 'smtp', plugin: 'check_smtp', args: (a) => ['-H', a] },
  { name: 'pop', plugin: 'check_pop', args: (a) => ['-H', a] },
  { name: 'imap', plugin: 'check_imap', args: (a) => ['-H', a] },
  { name: 'telnet', plugin: 'check_tcp', args: (a) => ['-H', a, '-p', '23'] },
  { name: 'icmp', plugin: 'check_icmp', args: (a) => ['-H', a] },
];

export interface PluginResult {
  name: string;
  /** Nagios codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. */
  code: number;
  output: string;
}

/** Runs every standard check against an address at once; `timeoutS` is each plugin's own -t. */
export function runChecks(address: string, timeoutS = 5): Promise<PluginResult[]> {
  return Promise.all(
    STANDARD_CHECKS.map(async (c) => {
      const args = c.plugin === 'check_icmp' ? c.args(address) : [...c.args(address), '-t', String(timeoutS)];
      const r = await run(`${PLUGIN_DIR}/${c.plugin}`, args, { timeoutMs: (timeoutS + 5) * 1000 });
      return { name: c.name, code: r.code, output: (r.stdout + r.stderr).trim().split('\n')[0] ?? '' };
    }),
  );
}

/** name → code, for readable assertions. */
export function codes(results: readonly PluginResult[]): Record<string, number> {
  return Object.fromEntries(results.map((r) => [r.name, r.code]));
}
