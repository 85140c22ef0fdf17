/**
 * Operator argv templates: each element may contain {{server.name}}, {{server.address}},
 * {{console.target}}, {{command}} and (power) {{action}}. Substituted per element, never
 * joined into a shell line: a value can only ever be one argument.
 */
import { MamoriError } from '../../errors.ts';

export type TemplateValues = Partial<Record<'server.name' | 'server.address' | 'console.target' | 'command' | 'action', string>>;

const PLACEHOLDER = /\{\{\s*([a-z.]+)\s*\}\}/g;

export function expandArgv(template: readonly string[], values: TemplateValues, where: string): string[] {
  return template.map((element) =>
    element.replace(PLACEHOLDER, (_m, key: string) => {
      const value = (values as Record<string, string | undefined>)[key];
      if (value === undefined) {
        throw new MamoriError('MAMORI_RUNBOOK_CONSOLE_UNAVAILABLE', `${where}: {{${key}}} has no value for this server`, { details: { placeholder: key } });
      }
      return value;
    }),
  );
}
