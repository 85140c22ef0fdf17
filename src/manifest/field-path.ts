/**
 * Field paths as people read them: `spec.steps[1].run.command`. The same spelling
 * is used for findings and for looking up positions, so the two always agree.
 */
const SIMPLE_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function joinField(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (SIMPLE_KEY.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

/** ajv's instancePath (`/spec/steps/1/run`) to a field path (`spec.steps[1].run`). */
export function fieldFromPointer(pointer: string, data: unknown): string {
  if (pointer === '') return '';
  let field = '';
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node) && /^[0-9]+$/.test(segment)) {
      const index = Number(segment);
      field = joinField(field, index);
      node = node[index];
    } else {
      field = joinField(field, segment);
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[segment] : undefined;
    }
  }
  return field;
}

