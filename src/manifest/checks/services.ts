/** Each service once per server; each step id once per runbook. */
import type { CheckInput, Finding, SemanticCheck } from '../types.ts';
import { findingAt } from '../finding.ts';
import { listServices } from '../services.ts';

export const duplicateServiceCheck: SemanticCheck = {
  name: 'duplicate-service',
  check({ servers }: CheckInput): Finding[] {
    const out: Finding[] = [];
    for (const s of servers) {
      const seen = new Map<string, number>();
      for (const svc of listServices(s.doc)) {
        const first = seen.get(svc.name);
        if (first !== undefined) out.push(findingAt(s, `spec.services[${svc.index}]`, 'duplicate-service', `${svc.name} is listed twice (first at spec.services[${first}]): list each service once`));
        else seen.set(svc.name, svc.index);
      }
    }
    return out;
  },
};

/** The protocols that have a STARTTLS (RFC 3207, 2595, 4217); the implicit-TLS ports need none. */
const STARTTLS_SERVICES: ReadonlySet<string> = new Set(['smtp', 'pop3', 'imap', 'ftp']);

export const starttlsServiceCheck: SemanticCheck = {
  name: 'service-starttls',
  check({ servers }: CheckInput): Finding[] {
    const out: Finding[] = [];
    for (const s of servers) {
      for (const svc of listServices(s.doc)) {
        if (svc.options.starttls === true && !STARTTLS_SERVICES.has(svc.name)) {
          out.push(findingAt(s, `spec.services[${svc.index}].${svc.name}.starttls`, 'service-starttls', `${svc.name} has no STARTTLS: starttls applies to smtp, pop3, imap and ftp (for implicit TLS list smtps, pop3s or imaps)`));
        }
      }
    }
    return out;
  },
};

export const stepIdCheck: SemanticCheck = {
  name: 'step-id',
  check({ runbooks }: CheckInput): Finding[] {
    const out: Finding[] = [];
    for (const r of runbooks) {
      const seen = new Set<string>();
      r.doc.spec.steps.forEach((step, i) => {
        if (step.id === undefined) return;
        if (seen.has(step.id)) out.push(findingAt(r, `spec.steps[${i}].id`, 'duplicate-step-id', `step id ${step.id} is used twice: step ids are unique in a runbook`));
        seen.add(step.id);
      });
    }
    return out;
  },
};
