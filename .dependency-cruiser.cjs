/** Imports flow one way: cli -> daemon -> source/reconcile/http -> probe/runbook/status/notify -> manifest/errors/log. */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'core-stays-low',
      comment: 'manifest, errors and log are the bottom layer: they import nothing above them.',
      severity: 'error',
      from: { path: '^src/(manifest|errors|log)' },
      to: { path: '^src/(cli|daemon|source|reconcile|http|probe|runbook|status|notify|report)' },
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
