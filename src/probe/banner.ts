import { runDialog, type Dialog, type DialogTls } from './dialog.ts';
import type { Prober, ProbeResult, ProbeTarget } from './types.ts';

/**
 * A prober for a banner protocol: the dialog is the whole protocol. `starttls` is the same
 * protocol upgraded with STARTTLS, run when the target asks for it.
 */
export function createDialogProber(dialog: Dialog, starttls?: Dialog, tls?: DialogTls): Prober {
  return {
    service: dialog.service,
    probe(target: ProbeTarget, signal?: AbortSignal): Promise<ProbeResult> {
      return runDialog(target.starttls === true && starttls !== undefined ? starttls : dialog, target, signal, tls);
    },
  };
}
