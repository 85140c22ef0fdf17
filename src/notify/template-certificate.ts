/**
 * Certificate mail (ja, en): an expiry warning per threshold, and a certificate that does not
 * verify. Nothing was restarted and the service answers: the first paragraph says so, then what
 * the certificate is and what the customer should do.
 */
import { serverLabel, serviceLabel } from './format.ts';
import type { Block } from './layout.ts';
import { greetingEn, greetingJa, type Template, type TemplateContext } from './template-context.ts';
import type { CertificateFacts, CertificateProblem, Notification } from './types.ts';

function serverLine(n: Notification): string {
  return n.server ? `${serverLabel(n.server)} (${n.server.address})` : '';
}

function svc(n: Notification): string {
  const f = n.facts as Partial<CertificateFacts>;
  const services = (f.endpoints ?? []).map((e) => serviceLabel(e.service));
  return services.length > 0 ? services.join(', ') : n.service ? serviceLabel(n.service) : '';
}

function target(n: Notification): string {
  return [n.server !== undefined ? serverLabel(n.server) : undefined, n.service].filter((x) => x !== undefined).join(' ');
}

function signature(ctx: TemplateContext, lines: string): Block {
  return { type: 'signature', lines: [ctx.providerName, lines] };
}

function certificateRowsEn(f: CertificateFacts, ctx: TemplateContext): Array<[string, string]> {
  const rows: Array<[string, string]> = f.endpoints.map((e, i) => [i === 0 ? 'Used by' : '', `${serviceLabel(e.service)} ${e.target} (${e.via === 'starttls' ? 'STARTTLS' : 'TLS'})`]);
  if (f.subject) rows.push(['Subject', f.subject]);
  if (f.issuer) rows.push(['Issuer', f.issuer]);
  rows.push(['Names', f.names.length > 0 ? f.names.join(', ') : '(none)']);
  rows.push(['Valid until', ctx.dt(f.notAfter)]);
  rows.push(['Fingerprint', `SHA-256 ${f.fingerprint}`]);
  rows.push(['Checked', ctx.dt(f.observedAt)]);
  return rows;
}

function certificateRowsJa(f: CertificateFacts, ctx: TemplateContext): Array<[string, string]> {
  const rows: Array<[string, string]> = f.endpoints.map((e, i) => [i === 0 ? '使用箇所' : '', `${serviceLabel(e.service)} ${e.target}（${e.via === 'starttls' ? 'STARTTLS' : 'TLS'}）`]);
  if (f.subject) rows.push(['サブジェクト', f.subject]);
  if (f.issuer) rows.push(['発行者', f.issuer]);
  rows.push(['名前', f.names.length > 0 ? f.names.join(', ') : '（なし）']);
  rows.push(['有効期限', ctx.dt(f.notAfter)]);
  rows.push(['フィンガープリント', `SHA-256 ${f.fingerprint}`]);
  rows.push(['確認日時', ctx.dt(f.observedAt)]);
  return rows;
}

const PROBLEM_EN: Record<CertificateProblem, string> = {
  'self-signed': 'It is self-signed: no certificate authority vouches for it, so mail clients warn or refuse to connect.',
  untrusted: 'Its chain does not lead to a trusted certificate authority (an intermediate certificate may be missing from the server\'s configuration).',
  'name-mismatch': 'It does not carry the name your users connect to',
};

const PROBLEM_JA: Record<CertificateProblem, string> = {
  'self-signed': '自己署名証明書です。認証局による証明がないため、メールソフトが警告を表示するか、接続を拒否します。',
  untrusted: '信頼された認証局までの証明書チェーンを確認できません（サーバの設定に中間証明書が含まれていない可能性があります）。',
  'name-mismatch': 'お客様の利用者が接続する名前が証明書に含まれていません',
};

export const certificateExpiringEn: Template<'certificate-expiring'> = (n, ctx) => {
  const f = n.facts;
  const when = f.expired ? `expired on ${ctx.dt(f.notAfter)}` : `expires on ${ctx.dt(f.notAfter)}, in ${f.daysLeft} day${f.daysLeft === 1 ? '' : 's'}`;
  return {
    subject: f.expired ? `${target(n)}: SSL certificate expired (please renew)` : `${target(n)}: SSL certificate expires in ${f.daysLeft} day${f.daysLeft === 1 ? '' : 's'}`,
    blocks: [
      { type: 'p', text: greetingEn(n.to, n.server?.customer) },
      {
        type: 'p',
        text:
          `The SSL certificate of ${svc(n)} on your server ${serverLine(n)} ${when}.\n` +
          (f.expired
            ? 'The service still answers, but mail clients now warn about or refuse the connection. Please renew the certificate and install it on the server.'
            : 'The service works normally; nothing has been restarted. Please renew the certificate and install it on the server before that date.'),
      },
      { type: 'heading', text: 'Certificate' },
      { type: 'fields', rows: certificateRowsEn(f, ctx) },
      {
        type: 'p',
        text: f.expired
          ? 'We do not restart anything for a certificate. Once the renewed certificate is installed, our checks see it by themselves.'
          : `We send this notice once for each warning threshold${f.thresholdDays !== undefined ? ` (this one: ${f.thresholdDays} days)` : ''} and once more if the certificate expires. A renewed certificate stops them.`,
      },
      { type: 'p', text: 'If you have any questions, please reply to this e-mail.\nKind regards,' },
      signature(ctx, 'This message was sent automatically by our monitoring system.'),
    ],
  };
};

export const certificateExpiringJa: Template<'certificate-expiring'> = (n, ctx) => {
  const f = n.facts;
  const when = f.expired ? `${ctx.dt(f.notAfter)} に有効期限が切れております` : `${ctx.dt(f.notAfter)} に有効期限を迎えます（残り ${f.daysLeft} 日）`;
  return {
    subject: f.expired ? `${target(n)}: SSL 証明書の有効期限が切れています（更新のお願い）` : `${target(n)}: SSL 証明書の有効期限まで残り ${f.daysLeft} 日です`,
    blocks: [
      { type: 'p', text: greetingJa(n.to, n.server?.customer) },
      { type: 'p', text: `いつもお世話になっております。\n${ctx.providerName}です。` },
      {
        type: 'p',
        text:
          `お客様のサーバ ${serverLine(n)} の ${svc(n)} で使用されている SSL 証明書が、${when}。\n` +
          (f.expired
            ? 'サービスは応答しておりますが、メールソフトなどで警告が表示されるか、接続が拒否される状態です。お手数ですが、証明書を更新のうえ、サーバへの設定をお願いいたします。'
            : 'サービスは正常に動作しており、再起動などの作業は行っておりません。お手数ですが、期限までに証明書を更新のうえ、サーバへの設定をお願いいたします。'),
      },
      { type: 'heading', text: '証明書' },
      { type: 'fields', rows: certificateRowsJa(f, ctx) },
      {
        type: 'p',
        text: f.expired
          ? '証明書を理由にサービスの再起動を行うことはございません。更新後の証明書が設定されましたら、弊社の監視で自動的に確認いたします。'
          : `本お知らせは、警告の区切りごと${f.thresholdDays !== undefined ? `（今回は残り ${f.thresholdDays} 日）` : ''}に 1 回、および期限切れの際に 1 回お送りいたします。証明書を更新いただければ、以降のお知らせは届きません。`,
      },
      { type: 'p', text: 'ご不明な点がございましたら、本メールにご返信ください。\n今後ともよろしくお願い申し上げます。' },
      signature(ctx, '※本メールは監視システムより自動で送信しております。'),
    ],
  };
};

export const certificateInvalidEn: Template<'certificate-invalid'> = (n, ctx) => {
  const f = n.facts;
  const problems = f.problems.map((p) => (p === 'name-mismatch' ? `${PROBLEM_EN[p]} (${f.checkedName ?? 'the server name'}).` : PROBLEM_EN[p]));
  if (f.chainError) problems.push(`(Detail: ${f.chainError})`);
  return {
    subject: `${target(n)}: SSL certificate cannot be verified`,
    blocks: [
      { type: 'p', text: greetingEn(n.to, n.server?.customer) },
      {
        type: 'p',
        text: `The SSL certificate of ${svc(n)} on your server ${serverLine(n)} cannot be verified.\nThe service works normally; nothing has been restarted. If this certificate is not intended, please install a certificate from a certificate authority.`,
      },
      { type: 'heading', text: 'What we found' },
      { type: 'list', items: problems },
      { type: 'heading', text: 'Certificate' },
      { type: 'fields', rows: certificateRowsEn(f, ctx) },
      { type: 'p', text: 'We send this notice once per certificate. If you use this certificate on purpose (for example only inside your company), no action is needed.' },
      { type: 'p', text: 'If you have any questions, please reply to this e-mail.\nKind regards,' },
      signature(ctx, 'This message was sent automatically by our monitoring system.'),
    ],
  };
};

export const certificateInvalidJa: Template<'certificate-invalid'> = (n, ctx) => {
  const f = n.facts;
  const problems = f.problems.map((p) => (p === 'name-mismatch' ? `${PROBLEM_JA[p]}（${f.checkedName ?? 'サーバ名'}）。` : PROBLEM_JA[p]));
  if (f.chainError) problems.push(`検証時のエラーコード: ${f.chainError}`);
  return {
    subject: `${target(n)}: SSL 証明書を検証できません`,
    blocks: [
      { type: 'p', text: greetingJa(n.to, n.server?.customer) },
      { type: 'p', text: `いつもお世話になっております。\n${ctx.providerName}です。` },
      {
        type: 'p',
        text: `お客様のサーバ ${serverLine(n)} の ${svc(n)} で使用されている SSL 証明書を検証できませんでした。\nサービスは正常に動作しており、再起動などの作業は行っておりません。意図しない証明書の場合は、認証局が発行した証明書の設定をお願いいたします。`,
      },
      { type: 'heading', text: '確認結果' },
      { type: 'list', items: problems },
      { type: 'heading', text: '証明書' },
      { type: 'fields', rows: certificateRowsJa(f, ctx) },
      { type: 'p', text: '本お知らせは証明書ごとに 1 回お送りいたします。社内向けなど、意図してこの証明書をご利用の場合は、対応の必要はございません。' },
      { type: 'p', text: 'ご不明な点がございましたら、本メールにご返信ください。\n今後ともよろしくお願い申し上げます。' },
      signature(ctx, '※本メールは監視システムより自動で送信しております。'),
    ],
  };
};
