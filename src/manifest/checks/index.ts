/**
 * The semantic checks every load runs, in order. To add one: write it in this
 * folder as a `SemanticCheck` and add a line here (or pass it in
 * `ValidateOptions.checks` when it lives above the manifest layer).
 * References and runbook coverage run afterwards, against the runbooks that
 * survived these checks (see validate-documents.ts).
 */
import type { SemanticCheck } from '../types.ts';
import { osCheck } from './os.ts';
import { planCheck } from './plan.ts';
import { networksCheck } from './networks.ts';
import { secretNamespaceCheck } from './secret-namespace.ts';
import { consoleProfileCheck } from './console-profile.ts';
import { maintenanceCheck } from './maintenance.ts';
import { duplicateServiceCheck, starttlsServiceCheck, stepIdCheck } from './services.ts';
import { uniqueTargetsCheck } from './unique-targets.ts';

export const BUILTIN_CHECKS: readonly SemanticCheck[] = [
  osCheck,
  planCheck,
  networksCheck,
  uniqueTargetsCheck,
  secretNamespaceCheck,
  consoleProfileCheck,
  maintenanceCheck,
  duplicateServiceCheck,
  starttlsServiceCheck,
  stepIdCheck,
];
