/**
 * Imports flow one way: cli -> daemon -> source/reconcile/http -> probe/runbook/status/notify ->
 * config -> manifest/errors/log -> vocabulary (the shared words: service names, failure kinds)
 * and clock (the injected Clock of the reconciler and the runbook executor).
 */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'core-stays-low',
      comment: 'manifest, errors and log are the bottom layer: they import nothing above them (config included: manifest declares the few config fields it reads as ManifestConfig, else manifest <-> config is a folder loop).',
      severity: 'error',
      from: { path: '^src/(manifest|errors|log)' },
      to: { path: '^src/(cli|daemon|source|reconcile|http|probe|runbook|status|notify|report|config)' },
    },
    {
      name: 'vocabulary-imports-nothing',
      comment: 'src/vocabulary.ts holds the words every layer shares; it sits below everything.',
      severity: 'error',
      from: { path: '^src/vocabulary\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'notify-does-not-read-probes',
      comment: 'notify words mails from facts; ServiceName and FailureKind come from src/vocabulary.ts, not from the probes.',
      severity: 'error',
      from: { path: '^src/notify/' },
      to: { path: '^src/probe/' },
    },
    {
      name: 'clock-imports-nothing',
      comment: 'src/clock.ts (the injected Clock the reconciler and the runbook executor share) sits below everything.',
      severity: 'error',
      from: { path: '^src/clock\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'source-builds-no-notifications',
      comment: 'source reports revision problems as data (RevisionProblem in src/source/desired.ts); the daemon words them as mail and webhook events (src/daemon/revision-notices.ts).',
      severity: 'error',
      from: { path: '^src/source/' },
      to: { path: '^src/notify/' },
    },
    {
      name: 'edges-do-not-reach-up',
      severity: 'error',
      from: { path: '^src/(probe|runbook|status|notify)/' },
      to: { path: '^src/(cli|daemon|source|reconcile|http)' },
    },
    {
      name: 'middle-does-not-reach-cli',
      severity: 'error',
      from: { path: '^src/(daemon|source|reconcile|http)' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'reconcile-facade-on-top',
      comment: 'controller.ts only wires the loop\'s parts (src/reconcile/README.md); no part reaches back up to it (wiring.ts builds it from a config, above it).',
      severity: 'error',
      from: { path: '^src/reconcile/', pathNot: '^src/reconcile/(controller|wiring)\\.ts$' },
      to: { path: '^src/reconcile/controller\\.ts$' },
    },
    {
      name: 'reconcile-state-below-actors',
      comment: 'The state owner, the queue and the pure judgement know nothing of who acts on them (server pass, actuator, remediations, status files, canaries): a store shared by replicas can stand in for the state.',
      severity: 'error',
      from: { path: '^src/reconcile/(fleet-state|work-queue|due-queue|lanes|semaphore|budgets|mass-failure|decide|decide-outcome|quorum)\\.ts$' },
      to: { path: '^src/reconcile/(controller|server-pass|actuator|remediations|canaries|status-files)\\.ts$' },
    },
    {
      name: 'pure-core-has-no-io',
      comment: 'decide and runbook selection/rendering are pure: no node: modules, no I/O libraries.',
      severity: 'error',
      from: { path: '^src/(reconcile/decide|runbook/(select|render))' },
      to: { path: '^(node:|fs|net|child_process|ssh2|nodemailer|simple-git|chokidar|pino)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
