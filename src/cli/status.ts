/**
 * `mamori status [SERVER] [--json]`: reads the status files (`<stateDir>/status/<customer>/<name>.yaml`). No lock
 * and no daemon needed: the files are replaced atomically, so a reader always sees a whole one.
 */
import type { Command } from 'commander';
import { isMamoriError } from '../errors.ts';
import { lookupServer, serverIdOf } from '../manifest/server-id.ts';
import type { ServerStatus } from '../status/model.ts';
import { formatIncidentPhases } from '../status/incident-phases.ts';

function ready(s: ServerStatus): string {
  return s.conditions.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
}

/** One line per server: name, Ready, the services not Healthy, open incidents, conditions that say why. */
export function formatStatusTable(list: readonly ServerStatus[]): string {
  const rows = list.map((s) => {
    const notHealthy = Object.entries(s.services)
      .filter(([, v]) => v.state !== 'Healthy')
      .map(([k, v]) => `${k}=${v.state}${v.escalation ? `(${v.escalation})` : v.hold ? `(${v.hold})` : ''}`);
    const why = s.conditions
      .filter((c) => (c.type !== 'Ready' && c.type !== 'Degraded' && c.type !== 'Monitored' && c.type !== 'Reconciled' && c.status === 'True') || ((c.type === 'Monitored' || c.type === 'Reconciled') && c.status === 'False'))
      .map((c) => (c.type === 'Monitored' ? `NotMonitored:${c.reason}(since ${c.lastTransitionTime})` : c.type === 'Reconciled' ? `PassFailing:${c.reason}` : `${c.type}:${c.reason}`));
    const next = s.maintenance?.next;
    if (next !== undefined) why.push(`next-maintenance:${next.start}`);
    return [serverIdOf(s), ready(s), notHealthy.join(' ') || '-', String(s.incidents.open.length), why.join(' ') || '-', s.observedRevision.slice(0, 12)];
  });
  const head = ['SERVER', 'READY', 'SERVICES', 'INCIDENTS', 'CONDITIONS', 'REVISION'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('Show the status files: per server Ready, failing services, open incidents and why.')
    .argument('[server]', 'one server (customer/name, or its name alone when one customer has it): its whole status file')
    .option('--json', 'print JSON')
    .addHelpText('after', `
Examples:
  $ mamori status                                            # one line per server
  $ mamori status acme-web1                                  # its whole status file
  $ mamori --config /etc/mamori/mamori.yaml status --json

Exit status: 0 when every server shown is Ready, 1 otherwise (or when SERVER has no status file).`)
    .action(async (server: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<{ config?: string }>();
      try {
        const [{ loadConfig }, { createStatusStore }, { stringify }] = await Promise.all([import('../config/load-config.ts'), import('../status/store.ts'), import('yaml')]);
        const config = await loadConfig(globals.config);
        const store = createStatusStore(config.stateDir);
        if (server !== undefined) {
          // customer/name, or a bare name one customer alone has; two customers' web01 is refused with both named.
          const all = await store.list();
          const found = lookupServer(server, all.map(serverIdOf));
          if (!found.ok && found.reason === 'ambiguous') {
            process.stderr.write(`mamori status: ${found.message}\n`);
            process.exitCode = 2;
            return;
          }
          const s = found.ok ? all.find((x) => serverIdOf(x) === found.id) : undefined;
          if (s === undefined) {
            process.stderr.write(`mamori status: no status file for ${server} in ${store.dir}\n`);
            process.exitCode = 1;
            return;
          }
          process.stdout.write(opts.json ? `${JSON.stringify(s, null, 2)}\n` : stringify(s, { lineWidth: 0 }) + formatIncidentPhases(s));
          process.exitCode = ready(s) === 'True' ? 0 : 1;
          return;
        }
        const list = await store.list();
        process.stdout.write(opts.json ? `${JSON.stringify(list, null, 2)}\n` : list.length === 0 ? `no status files in ${store.dir}\n` : formatStatusTable(list));
        process.exitCode = list.every((s) => ready(s) === 'True') ? 0 : 1;
      } catch (err) {
        process.stderr.write(`mamori status: ${isMamoriError(err) ? `${err.code}: ${err.message}` : (err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
