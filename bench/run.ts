/**
 * `npm run bench`: each bench module in turn, figures printed as it goes. One line per module;
 * `npm run bench -- NAME…` runs only those named (`fleet` runs only when named).
 */
const benches: Array<[string, () => Promise<{ run: () => Promise<void> }>]> = [
  ['probe', () => import('./probe.ts')],
  ['probe-cpu', () => import('./probe-cpu.ts')],
  ['notify', () => import('./notify.ts')],
  ['reconcile', () => import('./reconcile.ts')],
  ['reconcile-vs', () => import('./reconcile-vs.ts')],
  ['validate', () => import('./validate.ts')],
  ['plan', () => import('./plan.ts')],
  ['policy', () => import('./policy.ts')],
  ['sync', () => import('./sync.ts')],
  ['runbook', () => import('./runbook.ts')],
  ['ttr', () => import('./ttr.ts')],
  ['cold-start', () => import('./cold-start.ts')],
  ['page', () => import('./page.ts')],
  ['fleet', () => import('./fleet.ts')],
  ['pass', () => import('./pass.ts')],
  ['failover', () => import('./failover.ts')],
];

const wanted = process.argv.slice(2);
/** Run only when named: they start a whole fleet (minutes, both cores), or run the fleet's result path for minutes (pass). */
const onlyWhenNamed = new Set(['fleet', 'pass']);
for (const [name, load] of benches) {
  if (wanted.length > 0 ? !wanted.includes(name) : onlyWhenNamed.has(name)) continue;
  process.stdout.write(`\n# ${name}\n`);
  await (await load()).run();
}
