/**
 * Findings as text (`file:line:col: error: field: message [rule]`), as GitHub
 * workflow annotations, and as JSON. One place, so the CLI, errors and tests agree.
 */
import type { Finding } from './types.ts';

export function formatFinding(f: Finding): string {
  const field = f.field === '' ? '' : `${f.field}: `;
  return `${f.file}:${f.line}:${f.col}: ${f.severity}: ${field}${f.message} [${f.rule}]`;
}

/** GitHub's workflow command syntax: data escapes %, CR, LF; properties also : and ,. */
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

export function formatGithubAnnotation(f: Finding): string {
  const level = f.severity === 'error' ? 'error' : 'warning';
  const field = f.field === '' ? '' : `${f.field}: `;
  return `::${level} file=${escapeProperty(f.file)},line=${f.line},col=${f.col},title=${escapeProperty(`mamori ${f.rule}`)}::${escapeData(`${field}${f.message}`)}`;
}

/** A notice annotation on a file (no line): `mamori validate --signers` says who must sign it. */
export function formatGithubNotice(file: string, message: string): string {
  return `::notice file=${escapeProperty(file)}::${escapeData(message)}`;
}

/** Stable order: by file, then line, then column. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col || (a.field < b.field ? -1 : a.field > b.field ? 1 : 0)));
}
