/**
 * The state folder's migrations, oldest first: `STATE_MIGRATIONS[i]` turns format `i + 1` into
 * format `i + 2`, so the current format is `STATE_MIGRATIONS.length + 1` (format 1 is the layout
 * of mamori 0.1, before the folder carried a format file).
 *
 * To change the layout: append a migration here (never edit or reorder a landed one), say what it
 * does in CHANGELOG.md, and add a test that runs it on a folder in the old layout
 * (test/status/state-format.test.ts shows how). A migration must be idempotent: one interrupted
 * (crash, full disk) runs again from the start at the next start, over what it had already done.
 * The folder is backed up before the first migration runs and the state lock is held throughout.
 */
import type { Logger } from '../log.ts';
import { migrateToCustomerIds } from './migrate-customer-ids.ts';

export interface MigrationContext {
  /** The state folder (absolute). */
  stateDir: string;
  logger?: Logger;
}

export interface StateMigration {
  /** The format this migration reads; it leaves the folder in format `from + 1`. */
  readonly from: number;
  /** One line for the log and the format file's history, e.g. "status files keyed by customer/name". */
  readonly description: string;
  migrate(ctx: MigrationContext): Promise<void>;
}

export const STATE_MIGRATIONS: readonly StateMigration[] = [
  {
    // Two customers may each have a web01 (src/status/migrate-customer-ids.ts).
    from: 1,
    description: 'servers named customer/name: journal records, status files (status/<customer>/<name>.yaml) and last-good manifests',
    async migrate(ctx) {
      await migrateToCustomerIds(ctx.stateDir, ctx.logger);
    },
  },
];
