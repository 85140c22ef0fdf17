import { runDialog, type Dialog } from './dialog.ts';
import type { Prober, ProbeResult, ProbeTarget } from './types.ts';

/** A prober for a banner protocol: the dialog is the whole protocol. */
export function createDialogProber(dialog: Dialog): Prober {
  return {
    service: dialog.service,
    probe(target: ProbeTarget, signal?: AbortSignal): Promise<ProbeResult> {
      return runDialog(dialog, target, signal);
    },
  };
}

