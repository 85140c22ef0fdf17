import { compileDialog, runDialog, type Dialog, type DialogTls } from './dialog.ts';
import type { Prober, ProbeResult, ProbeTarget } from './types.ts';

/**
 * A prober for a banner protocol: the dialog is the whole protocol. `starttls` is the same
 * protocol upgraded with STARTTLS, run when the target asks for it.
 */
export function createDialogProber(dialog: Dialog, starttls?: Dialog, tls?: DialogTls): Prober {
  const plain = compileDialog(dialog);
  const upgraded = starttls !== undefined ? compileDialog(starttls) : undefined;
  return {
    service: dialog.service,
    probe(target: ProbeTarget, signal?: AbortSignal): Promise<ProbeResult> {
      return runDialog(target.starttls === true && upgraded !== undefined ? upgraded : plain, target, signal, tls);
    },
  };
}
