/**
 * The monthly report e-mail (kind `monthly-report`), in Japanese and English: availability per
 * server and service, the incidents with their time to recovery and what was done. The facts are
 * computed by src/report (a pure function of the journal); this file only words them.
 */
import { formatDuration, serviceLabel } from './format.ts';
import type { Block } from './layout.ts';
import { elide, greetingEn, greetingJa, type Template, type TemplateContext } from './template-context.ts';
import type { Locale, MonthlyReportFacts, NotificationOf } from './types.ts';
import type { ServiceName } from '../vocabulary.ts';

type N = NotificationOf<'monthly-report'>;

function percent(a: number | null, locale: Locale): string {
  if (a === null) return locale === 'ja' ? '— (観測なし)' : '— (not observed)';
  // Floor, not round: 99.9996 % must not read as 100 %.
  const p = Math.floor(a * 100_000) / 1000;
  return `${p.toFixed(3)} %`;
}

function target(t: string, locale: Locale): string {
  if (t === 'host') return locale === 'ja' ? 'サーバ全体 (ping)' : 'the whole server (ping)';
  return serviceLabel(t as ServiceName);
}

function serviceRow(s: MonthlyReportFacts['servers'][number]['services'][number], locale: Locale): [string, string] {
  const parts = [percent(s.availability, locale)];
  if (locale === 'ja') {
    if (s.downSeconds > 0) parts.push(`停止 ${formatDuration(s.downSeconds * 1000, 'ja')}`);
    if ((s.disputedSeconds ?? 0) > 0) parts.push(`判定不一致 ${formatDuration((s.disputedSeconds ?? 0) * 1000, 'ja')}`);
    if (s.unknownSeconds > 0) parts.push(`監視外 ${formatDuration(s.unknownSeconds * 1000, 'ja')}`);
  } else {
    if (s.downSeconds > 0) parts.push(`down ${formatDuration(s.downSeconds * 1000, 'en')}`);
    if ((s.disputedSeconds ?? 0) > 0) parts.push(`disputed ${formatDuration((s.disputedSeconds ?? 0) * 1000, 'en')}`);
    if (s.unknownSeconds > 0) parts.push(`unknown ${formatDuration(s.unknownSeconds * 1000, 'en')}`);
  }
  return [serviceLabel(s.service as ServiceName), parts.join(locale === 'ja' ? '、' : ', ')];
}

function incidentLine(i: MonthlyReportFacts['servers'][number]['incidents'][number], ctx: TemplateContext, locale: Locale): string {
  const what = target(i.target, locale);
  const tries = i.verdicts.length;
  if (locale === 'ja') {
    const outcome =
      i.timeToRecoverySeconds !== undefined
        ? `${formatDuration(i.timeToRecoverySeconds * 1000, 'ja')}で復旧${i.closeReason === 'recovered-by-itself' ? '（自然復旧）' : ''}`
        : i.closedAt !== undefined
          ? `終了（${i.closeReason ?? ''}）`
          : '対応中';
    const acts = tries > 0 ? `、復旧手順 ${tries} 回（${i.verdicts.join('、')}）${i.powerActions > 0 ? `、電源操作 ${i.powerActions} 回` : ''}` : '';
    return `${ctx.dt(i.openedAt)} ${what}: ${outcome}${acts}`;
  }
  const outcome =
    i.timeToRecoverySeconds !== undefined
      ? `recovered in ${formatDuration(i.timeToRecoverySeconds * 1000, 'en')}${i.closeReason === 'recovered-by-itself' ? ' (by itself)' : ''}`
      : i.closedAt !== undefined
        ? `closed (${i.closeReason ?? ''})`
        : 'still open';
  const acts = tries > 0 ? `; ${tries} runbook attempt${tries === 1 ? '' : 's'} (${i.verdicts.join(', ')})${i.powerActions > 0 ? `, ${i.powerActions} power action${i.powerActions === 1 ? '' : 's'}` : ''}` : '';
  return `${ctx.dt(i.openedAt)} ${what}: ${outcome}${acts}`;
}

function body(n: N, ctx: TemplateContext, locale: Locale): Block[] {
  const f = n.facts;
  const blocks: Block[] = [];
  for (const s of f.servers) {
    blocks.push({ type: 'heading', text: s.name });
    blocks.push({ type: 'fields', rows: s.services.map((x) => serviceRow(x, locale)) });
    const lines = s.incidents.map((i) => incidentLine(i, ctx, locale));
    if (lines.length > 0) blocks.push({ type: 'list', items: elide(lines, 30, (k) => (locale === 'ja' ? `…（ほか ${k} 件）…` : `… (${k} more) …`)) });
    else blocks.push({ type: 'p', text: locale === 'ja' ? '障害はありませんでした。' : 'No incidents.' });
  }
  return blocks;
}

export const monthlyReportEn: Template<'monthly-report'> = (n, ctx) => {
  const f = n.facts;
  const incidents = f.servers.reduce((k, s) => k + s.incidents.length, 0);
  return {
    subject: `Monthly report ${f.month}: ${f.customer}`,
    blocks: [
      { type: 'p', text: greetingEn(n.to, f.customer) },
      {
        type: 'p',
        text: `This is the monitoring report of your ${f.servers.length === 1 ? 'server' : `${f.servers.length} servers`} for ${f.month}${f.partial ? ` (up to ${ctx.dt(f.periodEnd)})` : ''}: ${incidents === 0 ? 'there were no incidents.' : `${incidents} incident${incidents === 1 ? '' : 's'}, listed below with the time each took to recover and what we did.`}`,
      },
      ...body(n, ctx, 'en'),
      {
        type: 'p',
        text: `Availability is the share of the time our monitoring could see the service in which it answered. Time we could not see — before a server was added, after it was removed, or while our monitoring itself was not running — is shown as unknown and is never counted as up. The month is counted from ${ctx.dt(f.periodStart)}.`,
      },
      { type: 'signature', lines: [ctx.providerName, 'This message was sent automatically by our monitoring system.'] },
    ],
  };
};

export const monthlyReportJa: Template<'monthly-report'> = (n, ctx) => {
  const f = n.facts;
  const incidents = f.servers.reduce((k, s) => k + s.incidents.length, 0);
  return {
    subject: `${f.month} 月次レポート: ${f.customer}`,
    blocks: [
      { type: 'p', text: greetingJa(n.to, f.customer) },
      { type: 'p', text: `いつもお世話になっております。\n${ctx.providerName}です。` },
      {
        type: 'p',
        text: `${f.month} の監視レポート${f.partial ? `（${ctx.dt(f.periodEnd)} まで）` : ''}をお送りいたします。対象サーバ ${f.servers.length} 台、${incidents === 0 ? '障害はありませんでした。' : `障害 ${incidents} 件です。各障害の復旧までの時間と実施した対応を以下に記載いたします。`}`,
      },
      ...body(n, ctx, 'ja'),
      {
        type: 'p',
        text: `稼働率は、弊社の監視がサービスを確認できた時間のうち、応答があった時間の割合です。サーバの登録前・登録解除後、および監視システム自体が停止していた時間は「監視外」とし、稼働時間には含めておりません。集計期間は ${ctx.dt(f.periodStart)} からです。`,
      },
      { type: 'signature', lines: [ctx.providerName, '※本メールは監視システムより自動で送信しております。'] },
    ],
  };
};
