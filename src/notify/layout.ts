/**
 * One message, two bodies: a template builds a small document model, and this file lays it out
 * as plain text and as HTML, so the two never say different things.
 */
import { displayWidth } from './format.ts';
import type { Locale } from './types.ts';

export type Block =
  | { type: 'p'; text: string }
  | { type: 'heading'; text: string }
  | { type: 'fields'; rows: Array<[string, string]> }
  | { type: 'list'; items: string[]; ordered?: boolean }
  | { type: 'steps'; steps: Array<{ text: string; command?: string; output?: string }> }
  | { type: 'code'; text: string }
  | { type: 'signature'; lines: string[] };

export interface EmailDocument {
  locale: Locale;
  subject: string;
  blocks: Block[];
}

const INDENT = '  ';

export function layoutText(doc: EmailDocument): string {
  const bullet = doc.locale === 'ja' ? '・' : '- ';
  const out: string[] = [];
  for (const block of doc.blocks) {
    switch (block.type) {
      case 'p':
        out.push(block.text);
        break;
      case 'heading':
        out.push(`■ ${block.text}`);
        break;
      case 'fields': {
        const width = Math.max(...block.rows.map(([label]) => displayWidth(label)));
        out.push(
          block.rows
            .map(([label, value]) => `${INDENT}${label}${' '.repeat(width - displayWidth(label))} : ${indentContinuation(value, INDENT + ' '.repeat(width + 3))}`)
            .join('\n'),
        );
        break;
      }
      case 'list':
        out.push(
          block.items
            .map((item, i) => {
              const mark = block.ordered ? `${i + 1}. ` : bullet;
              return `${INDENT}${mark}${indentContinuation(item, INDENT + ' '.repeat(displayWidth(mark)))}`;
            })
            .join('\n'),
        );
        break;
      case 'steps':
        out.push(
          block.steps
            .map((step, i) => {
              const mark = `${i + 1}. `;
              const pad = INDENT + ' '.repeat(mark.length);
              const lines = [`${INDENT}${mark}${indentContinuation(step.text, pad)}`];
              if (step.command !== undefined) lines.push(`${pad}$ ${step.command.replace(/\n/g, ' ')}`);
              if (step.output !== undefined && step.output !== '') {
                for (const line of step.output.split('\n')) lines.push(`${pad}> ${line}`);
              }
              return lines.join('\n');
            })
            .join('\n'),
        );
        break;
      case 'code':
        out.push(block.text.split('\n').map((line) => `    ${line}`).join('\n'));
        break;
      case 'signature':
        // "-- " is the signature separator mail clients know.
        out.push(['-- ', ...block.lines].join('\n'));
        break;
    }
  }
  // A heading sits right on top of its content; other blocks are separated by a blank line.
  let text = '';
  doc.blocks.forEach((block, i) => {
    if (i > 0) text += doc.blocks[i - 1]?.type === 'heading' ? '\n' : '\n\n';
    text += out[i];
  });
  return `${text}\n`;
}

function indentContinuation(text: string, pad: string): string {
  return text.split('\n').join(`\n${pad}`);
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function inline(text: string): string {
  return escapeHtml(text).replace(/\n/g, '<br>\n');
}

const STYLE = {
  body: 'margin:0;padding:16px;font-family:-apple-system,\'Segoe UI\',\'Hiragino Kaku Gothic ProN\',Meiryo,sans-serif;font-size:14px;line-height:1.7;color:#222;',
  h2: 'font-size:15px;margin:20px 0 6px;padding-bottom:2px;border-bottom:1px solid #ccc;',
  th: 'text-align:left;padding:2px 12px 2px 0;white-space:nowrap;vertical-align:top;font-weight:normal;color:#555;',
  td: 'padding:2px 0;vertical-align:top;',
  pre: 'margin:4px 0;padding:6px 8px;background:#f4f4f4;border-radius:3px;font-family:Menlo,Consolas,monospace;font-size:12px;white-space:pre-wrap;word-break:break-all;',
  sig: 'margin-top:24px;color:#666;font-size:12px;',
};

export function layoutHtml(doc: EmailDocument): string {
  const out: string[] = [];
  for (const block of doc.blocks) {
    switch (block.type) {
      case 'p':
        out.push(`<p>${inline(block.text)}</p>`);
        break;
      case 'heading':
        out.push(`<h2 style="${STYLE.h2}">${escapeHtml(block.text)}</h2>`);
        break;
      case 'fields':
        out.push(
          `<table role="presentation" cellspacing="0" cellpadding="0">\n${block.rows
            .map(([label, value]) => `<tr><th style="${STYLE.th}">${escapeHtml(label)}</th><td style="${STYLE.td}">${inline(value)}</td></tr>`)
            .join('\n')}\n</table>`,
        );
        break;
      case 'list': {
        const tag = block.ordered ? 'ol' : 'ul';
        out.push(`<${tag}>\n${block.items.map((item) => `<li>${inline(item)}</li>`).join('\n')}\n</${tag}>`);
        break;
      }
      case 'steps':
        out.push(
          `<ol>\n${block.steps
            .map((step) => {
              let li = `<li>${inline(step.text)}`;
              if (step.command !== undefined) li += `\n<pre style="${STYLE.pre}">$ ${escapeHtml(step.command)}</pre>`;
              if (step.output !== undefined && step.output !== '') li += `\n<pre style="${STYLE.pre}">${escapeHtml(step.output)}</pre>`;
              return `${li}</li>`;
            })
            .join('\n')}\n</ol>`,
        );
        break;
      case 'code':
        out.push(`<pre style="${STYLE.pre}">${escapeHtml(block.text)}</pre>`);
        break;
      case 'signature':
        out.push(`<p style="${STYLE.sig}">${block.lines.map(escapeHtml).join('<br>\n')}</p>`);
        break;
    }
  }
  return [
    '<!DOCTYPE html>',
    `<html lang="${doc.locale}">`,
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(doc.subject)}</title>`,
    '</head>',
    `<body style="${STYLE.body}">`,
    ...out,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
