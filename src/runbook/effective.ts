/**
 * The effective runbook of one service of one server: selected (select.ts) and rendered
 * (render.ts), or why there is none. The one way every caller — the reconciler, plan,
 * `runbook show/run`, check-access — gets a runbook to show or run, so they agree. Pure.
 */
import type { LoadedDocument, RunbookDocument, ServerDocument, ServiceName } from '../manifest/types.ts';
import { renderRunbook } from './render.ts';
import { selectRunbook } from './select.ts';
import type { RenderedRunbook } from './types.ts';

export type EffectiveRunbook =
  | { ok: true; rendered: RenderedRunbook; runbook: RunbookDocument; origin: 'custom' | 'standard'; file?: string }
  /** NoRunbook: none is selected; Unrenderable: the selected one cannot be rendered for this server. */
  | { ok: false; reason: 'NoRunbook'; error: string }
  | { ok: false; reason: 'Unrenderable'; error: string; runbook: RunbookDocument; origin: 'custom' | 'standard' };

export function effectiveRunbook(
  server: ServerDocument,
  service: ServiceName,
  runbooks: Map<string, LoadedDocument<RunbookDocument>> | readonly RunbookDocument[],
): EffectiveRunbook {
  const picked = selectRunbook(server, service, runbooks);
  if ('error' in picked) return { ok: false, reason: 'NoRunbook', error: picked.error };
  try {
    const rendered = renderRunbook(server, service, picked.runbook, picked.origin);
    return { ok: true, rendered, runbook: picked.runbook, origin: picked.origin, ...(picked.file === undefined ? {} : { file: picked.file }) };
  } catch (err) {
    // MAMORI_RUNBOOK_UNRENDERABLE, or a fault of ours: either way this runbook cannot run here, and callers never throw for it.
    return { ok: false, reason: 'Unrenderable', error: err instanceof Error ? err.message : String(err), runbook: picked.runbook, origin: picked.origin };
  }
}
