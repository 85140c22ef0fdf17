/**
 * The journal's file layer with faults on demand: the real file (node:fs/promises), whose writes
 * fail with ENOSPC or EIO when a rule says so — as a full or failing state disk makes them fail.
 */
import { open } from 'node:fs/promises';
import type { JournalFile, JournalOpen } from '../../src/status/journal.ts';

export type WriteRule = (text: string) => 'ENOSPC' | 'EIO' | undefined;

export class FaultyFiles {
  /** Decides, per write, whether it fails (undefined: it succeeds). */
  rule: WriteRule = () => undefined;
  failed = 0;
  written = 0;

  /** Makes the next write whose text contains `needle` fail once with `code`. */
  failOnce(needle: string, code: 'ENOSPC' | 'EIO' = 'EIO'): void {
    let armed = true;
    this.rule = (text) => {
      if (!armed || !text.includes(needle)) return undefined;
      armed = false;
      return code;
    };
  }

  readonly open: JournalOpen = async (file, flags, mode) => {
    const fh = await open(file, flags, mode);
    const wrapped: JournalFile = {
      write: async (text: string) => {
        const code = this.rule(text);
        if (code !== undefined) {
          this.failed++;
          const err = new Error(`${code}: injected at the journal's file layer`) as NodeJS.ErrnoException;
          err.code = code;
          throw err;
        }
        this.written++;
        return fh.write(text);
      },
      sync: () => fh.sync(),
      truncate: (len) => fh.truncate(len),
      stat: () => fh.stat(),
      read: (buffer, offset, length, position) => fh.read(buffer, offset, length, position),
      close: () => fh.close(),
    };
    return wrapped;
  };
}
