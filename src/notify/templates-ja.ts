/**
 * Japanese messages: polite business e-mail, as the seed's provider writes to its customers
 * (〜様, お知らせいたします). The first paragraph alone must tell a customer reading at 3 a.m.
 * what happened, what was done and whether they need to act; the sections below are the record.
 */
import { failureLabel, formatDuration, localized, pingFailureLabel, serverLabel, serviceLabel } from './format.ts';
import type { Block } from './layout.ts';
import { elide, greetingJa, hostsAllowForm, type TemplateContext, type TemplateSet } from './template-context.ts';
import { monthlyReportJa } from './template-monthly-report.ts';
import { certificateExpiringJa, certificateInvalidJa } from './template-certificate.ts';
import type {
  ChangeRefusedFacts,
  CouldNotRecoverReason,
  Notification,
  NotificationKind,
  ProbeFailureSummary,
  ReadinessCheck,
  StepSummary,
} from './types.ts';
import type { ServiceName } from '../vocabulary.ts';

const QUESTIONS = 'ご不明な点がございましたら、本メールにご返信ください。';
const CLOSING = `${QUESTIONS}\n今後ともよろしくお願い申し上げます。`;

function greeting(n: Notification): string {
  return greetingJa(n.to, n.server?.customer);
}

function opening(n: Notification, ctx: TemplateContext): Block[] {
  return [
    { type: 'p', text: greeting(n) },
    { type: 'p', text: `いつもお世話になっております。\n${ctx.providerName}です。` },
  ];
}

function signature(ctx: TemplateContext, n: Notification): Block {
  const lines = [ctx.providerName, '※本メールは監視システムより自動で送信しております。'];
  if (n.incident) lines.push(`お問い合わせ番号: ${n.incident.id}`);
  return { type: 'signature', lines };
}

function serverLine(n: Notification): string {
  return n.server ? `${serverLabel(n.server)} (${n.server.address})` : '';
}

function svc(n: Notification): string {
  return n.service ? serviceLabel(n.service, n.port) : 'サービス';
}

function failureText(f: ProbeFailureSummary, service: ServiceName | undefined): string {
  const what = service === 'ping' ? `${f.target} へ PING を送信しましたところ` : `${f.target} への接続を試みましたところ`;
  const lines = [`弊社監視サーバから ${what}、${service === 'ping' ? pingFailureLabel(f.kind, 'ja') : failureLabel(f.kind, 'ja')}。`];
  // The probe's own words are English: kept as a record line, never inside a Japanese sentence.
  if (f.message) lines.push(`監視システムの記録: ${f.message}`);
  return lines.join('\n');
}

const STEP_DEFAULT_TITLE: Record<StepSummary['type'], string> = {
  check: '状態の確認',
  run: 'コマンドの実行',
  'answer-prompt': '起動時の入力要求への応答',
  verify: '復旧の確認',
  console: 'コンソールでの確認',
  power: '電源の再起動',
};

function stepOutcome(step: StepSummary): string {
  const code = step.exitCode !== undefined && step.exitCode !== 0 ? `（終了コード ${step.exitCode}）` : '';
  switch (step.outcome) {
    case 'skipped':
      return '実施しませんでした';
    case 'timeout':
      return '時間内に完了しませんでした';
    case 'ok':
      return step.type === 'check' ? '問題ありませんでした' : step.type === 'verify' ? '確認できました' : '完了しました';
    case 'failed':
      return step.type === 'check' ? `異常が見つかりました${code}` : step.type === 'verify' ? `確認できませんでした${code}` : `失敗しました${code}`;
  }
}

function steps(list: StepSummary[], ctx: TemplateContext): Block {
  if (list.length === 0) return { type: 'p', text: '  （実施した作業はありません）' };
  return {
    type: 'steps',
    steps: list.map((s) => {
      const at = s.startedAt ? `${ctx.time(s.startedAt)} ` : '';
      const title = s.title !== undefined ? localized(s.title, 'ja') : STEP_DEFAULT_TITLE[s.type];
      const step: { text: string; command?: string; output?: string } = { text: `${at}${title} → ${stepOutcome(s)}` };
      if (s.command !== undefined) step.command = s.command;
      if (s.output !== undefined) step.output = s.output;
      return step;
    }),
  };
}

function answerCheck(service: ServiceName | undefined): string {
  if (service === 'http' || service === 'https') return 'HEAD リクエストに正常に応答すること';
  if (service === 'ping') return 'PING に応答すること';
  return '接続に正常に応答すること';
}

const REASON: Record<CouldNotRecoverReason, { why: string; ask: string }> = {
  'budget-exhausted': {
    why: '短時間のうちに障害が繰り返し発生し、再起動の上限回数に達しました。',
    ask: 'サービスが繰り返し停止する原因として、設定の誤り、ディスク容量やメモリの不足、アクセスの急増などが考えられます。お手数ですが、サーバにログインのうえ、サービスのログ等をご確認ください。',
  },
  'verify-failed': {
    why: '再起動の作業は完了しましたが、その後の確認でサービスの応答を確認できませんでした。',
    ask: 'サービスが正常に起動できない状態（設定ファイルの誤り、ディスク容量の不足など）が考えられます。お手数ですが、サーバにログインのうえ、サービスの状態とログをご確認ください。',
  },
  'step-failed': {
    why: '手順の実行中にコマンドが失敗したため、作業を中断いたしました。',
    ask: 'サービスが正常に起動できない状態（設定ファイルの誤り、ディスク容量の不足など）が考えられます。お手数ですが、サーバにログインのうえ、サービスの状態とログをご確認ください。',
  },
  'login-failed': {
    why: '弊社管理用アカウントでサーバにログインできなかったため、作業を行うことができませんでした。',
    ask: '弊社管理用アカウントのパスワードを変更・削除された場合は、管理ユーザのパスワードを弊社宛にご連絡ください。また、ファイアウォールや TCP Wrapper の設定で、弊社管理用ネットワークからの SSH 接続を制限されていないかご確認ください。',
  },
  'console-alive-network-down': {
    why: 'コンソールではサーバの稼働を確認できましたが、ネットワークからの応答がございません。稼働中のサーバを停止させないよう、電源の再起動は行っておりません。',
    ask: 'ネットワーク設定やファイアウォール設定の変更が原因として考えられます。お心当たりがございましたら、設定をご確認ください。弊社でも引き続き状況を確認いたします。',
  },
  unexpected: {
    why: '作業中に想定外の状況が発生したため、安全のため作業を中断いたしました。',
    ask: '弊社担当者が状況を確認のうえ、あらためてご連絡いたします。お急ぎの場合は、サーバの状態をご確認ください。',
  },
};

const READINESS: Record<ReadinessCheck, { label: string; ask: string }> = {
  'management-login': {
    label: '弊社管理用アカウントでのログイン',
    ask: '弊社管理用アカウントでサーバにログインできませんでした。管理用アカウントのパスワードを削除・変更された場合は、管理ユーザのパスワードを事前に弊社宛にご連絡いただく必要がございます。',
  },
  'host-key': {
    label: 'サーバの SSH ホスト鍵',
    ask: 'サーバの SSH ホスト鍵が弊社にご登録いただいているものと異なるため、ログインを控えました（別のサーバである可能性がございます）。サーバの再インストールやホスト鍵の変更をされた場合は、新しいホスト鍵のフィンガープリントを所定の方法で弊社宛にご連絡ください。',
  },
  networks: {
    label: '弊社管理用ネットワークからの接続',
    ask: 'サーバは監視には応答しておりますが、弊社管理用ネットワークからの SSH 接続が遮断されております。ファイアウォールや TCP Wrapper の設定で、弊社管理用ネットワークからの SSH（および監視対象のサービス）への接続を許可してください。',
  },
  os: {
    label: 'オペレーティングシステム',
    ask: 'サーバの OS がご登録いただいているものと異なるため、弊社の手順を使用することができません。変更の内容を弊社宛にご連絡ください。ご登録内容を更新いたします。',
  },
  'ssl-passphrase': {
    label: 'Web サーバ起動時の SSL パスフレーズ',
    ask: 'Web サーバの起動時に SSL パスフレーズの入力が必要な設定となっておりますが、弊社にご登録いただいているパスフレーズでは確認できませんでした。httpd の再起動時にパスフレーズが必要となりますため、パスフレーズを弊社宛にご通知ください。',
  },
  bmc: {
    label: 'コンソール（BMC）への接続',
    ask: 'サーバのコンソール（BMC）に接続できませんでした。サーバが PING に応答しなくなった場合に、コンソールでの状況確認および電源の再起動を行うことができません。BMC の設定やパスワードを変更された場合は、弊社宛にご連絡ください。',
  },
};

const SIGNATURE_JA: Record<ChangeRefusedFacts['changes'][number]['signature'], string> = {
  good: '署名者',
  unsigned: '署名なし',
  'unknown-key': '登録されていない鍵による署名',
  bad: '不正な署名',
  expired: '期限切れの鍵による署名',
  revoked: '失効した鍵による署名',
};

const KIND_SHORT: Record<NotificationKind, string> = {
  recovered: '復旧しました',
  'could-not-recover': '復旧できませんでした',
  'access-blocked': '弊社監視ネットワークからの接続が遮断されています',
  'not-ready': '障害復旧の準備が整っていません',
  'provider-fault': '弊社側の不具合により復旧作業を行えません',
  'provider-working': '弊社側の不具合に対応しております',
  'readiness-restored': '障害復旧の準備が整いました',
  'revision-refused': 'リビジョンを適用しませんでした',
  'revision-held': 'リビジョンを保留しています',
  'change-refused': '署名者に許可のない変更を適用しませんでした',
  'mass-failure-paused': '一斉障害のため自動復旧を停止しました',
  'console-check-requested': 'コンソールでの確認依頼',
  digest: 'お知らせのまとめ',
  'monthly-report': '月次レポート',
  'certificate-expiring': 'SSL 証明書の有効期限が近づいています',
  'certificate-invalid': 'SSL 証明書を検証できません',
};

function target(n: Notification): string {
  return [n.server !== undefined ? serverLabel(n.server) : undefined, n.service].filter((x) => x !== undefined).join(' ');
}

export const JA: TemplateSet = {
  recovered(n, ctx) {
    const f = n.facts;
    const remedy = f.remedy.type === 'restart-service' ? `${f.remedy.unit} の再起動` : f.remedy.type === 'power-cycle' ? 'サーバの電源再起動' : '作業なし（自然に復旧）';
    const intro =
      f.remedy.type === 'none'
        ? `お客様のサーバ ${serverLine(n)} にて ${svc(n)} の障害を検知いたしましたが、復旧作業を行う前にサービスが復旧いたしました。`
        : `お客様のサーバ ${serverLine(n)} にて ${svc(n)} の障害を検知いたしましたため、一次対応手順に基づき、${remedy}を行いました。`;
    const verified: string[] = [];
    if (f.verification.process) verified.push(`ps コマンドで ${f.verification.process} プロセスの稼働を確認いたしました。`);
    if (f.verification.localConnect) verified.push('サーバ内（ローカル）からの接続を確認いたしました。');
    verified.push(`${ctx.dt(f.verification.externalProbe.at)}、弊社監視サーバから ${f.verification.externalProbe.target} へ接続し、${answerCheck(n.service)}を確認いたしました。`);
    const rows: Array<[string, string]> = [
      ['サーバ', serverLine(n)],
      ['サービス', svc(n)],
      ['障害検知', ctx.dt(f.detectedAt)],
      ['復旧確認', ctx.dt(f.recoveredAt)],
      ['停止時間', `${formatDuration(Date.parse(f.recoveredAt) - Date.parse(f.detectedAt), 'ja')}（検知から復旧確認まで）`],
      ['対応内容', remedy],
    ];
    if (f.runbook) rows.push(['手順書', f.runbook]);
    return {
      subject: `${target(n)}: 復旧しました`,
      blocks: [
        ...opening(n, ctx),
        { type: 'p', text: `${intro}\n現在は正常に応答していることを確認しておりますので、ご報告いたします。` },
        { type: 'p', text: 'お客様にて対応していただく必要はございません。' },
        { type: 'heading', text: '概要' },
        { type: 'fields', rows },
        { type: 'heading', text: '検知した障害' },
        { type: 'p', text: failureText(f.failure, n.service) },
        { type: 'heading', text: '実施した作業' },
        steps(f.steps, ctx),
        { type: 'heading', text: '復旧の確認' },
        { type: 'list', items: verified },
        { type: 'p', text: `同様の障害が繰り返し発生する場合は、サーバの負荷状況やログをご確認いただけますと幸いです。\n${CLOSING}` },
        signature(ctx, n),
      ],
    };
  },

  'could-not-recover'(n, ctx) {
    const f = n.facts;
    const reason = REASON[f.reason];
    const now = f.stateNow.up
      ? `${ctx.dt(f.stateNow.checkedAt)} の時点では、${svc(n)} の応答を確認しております。`
      : `${ctx.dt(f.stateNow.checkedAt)} の時点で、${svc(n)} は引き続き応答しておりません。`;
    const state = [now];
    if (f.stateNow.detail) state.push(`監視システムの記録: ${f.stateNow.detail}`);
    if (f.remediationHeld) {
      state.push('同じ作業を繰り返さないよう、このサービスに対する自動での復旧作業はいったん停止しております。監視は継続しており、サービスの復旧を確認した時点で通常の対応に戻ります。');
    } else {
      state.push('監視は継続しております。');
    }
    const rows: Array<[string, string]> = [
      ['サーバ', serverLine(n)],
      ['サービス', svc(n)],
      ['障害検知', ctx.dt(f.detectedAt)],
    ];
    if (f.runbook) rows.push(['手順書', f.runbook]);
    return {
      subject: `${target(n)}: 復旧できませんでした（状況のご報告）`,
      blocks: [
        ...opening(n, ctx),
        {
          type: 'p',
          text: `お客様のサーバ ${serverLine(n)} にて ${svc(n)} の障害を検知し、一次対応手順に基づき復旧作業を行いましたが、復旧することができませんでした。\n${reason.why}\n現在の状況をご報告いたします。`,
        },
        { type: 'heading', text: '現在の状況' },
        { type: 'p', text: state.join('\n') },
        { type: 'heading', text: 'お客様へのお願い' },
        { type: 'p', text: reason.ask },
        { type: 'heading', text: '概要' },
        { type: 'fields', rows },
        { type: 'heading', text: '検知した障害' },
        { type: 'p', text: failureText(f.failure, n.service) },
        { type: 'heading', text: '実施した作業' },
        steps(f.steps, ctx),
        { type: 'p', text: `ご迷惑をおかけし、誠に申し訳ございません。\n${QUESTIONS}\n何卒よろしくお願い申し上げます。` },
        signature(ctx, n),
      ],
    };
  },

  'access-blocked'(n, ctx) {
    const f = n.facts;
    const missing = f.missingNetworks;
    const evidence =
      missing !== undefined
        ? (f.vantages ?? []).map((v) => `弊社管理用ネットワーク ${v.network}（${v.vantage}）から ${f.external.target} への接続: ${v.up ? '正常に応答しました' : failureLabel(f.external.kind, 'ja')}（${ctx.dt(v.at)}）`)
        : [`弊社監視サーバ${f.sourceAddress ? `（${f.sourceAddress}）` : ''}から ${f.external.target} への接続: ${failureLabel(f.external.kind, 'ja')}`];
    if (missing === undefined && f.process) evidence.push(`サーバ内での ${f.process} プロセスの稼働: 確認できました`);
    if (missing === undefined) evidence.push(`サーバ内（ローカル）からの接続: 正常に応答しました${f.local.command ? `\n$ ${f.local.command}` : ''}${f.local.result ? `\n> ${f.local.result}` : ''}`);
    const nets = missing ?? f.managementNetworks;
    const why =
      missing !== undefined
        ? `お客様のサーバ ${serverLine(n)} の ${svc(n)} に、弊社管理用ネットワーク ${missing.join('、')} の監視サーバから接続できない状態となっております。もう一方の管理用ネットワークからは正常に接続できております。このため、ファイアウォールまたは TCP Wrapper の設定で、弊社管理用ネットワークの一部（${missing.join('、')}）からの接続が許可されていないものと考えられます。`
        : `お客様のサーバ ${serverLine(n)} の ${svc(n)} に、弊社監視サーバから接続できない状態となっております。\nサーバにログインして確認いたしましたところ、サービスは正常に動作しており、サーバ内からの接続には応答しておりました。このため、ファイアウォールまたは TCP Wrapper の設定により、弊社管理用ネットワークからの接続が遮断されているものと考えられます。`;
    const example = [
      `TCP Wrapper（/etc/hosts.allow）の例:`,
      `  ALL: ${nets.map(hostsAllowForm).join(' ')}`,
      `iptables の例:`,
      ...nets.map((net) => `  iptables -I INPUT -s ${net} -j ACCEPT`),
    ].join('\n');
    return {
      subject: `${target(n)}: 弊社監視ネットワークからの接続が遮断されています`,
      blocks: [
        ...opening(n, ctx),
        { type: 'p', text: why },
        { type: 'p', text: missing !== undefined ? 'もう一方のネットワークからは応答しておりますため、サービスの再起動などの作業は行っておりません。' : 'サービス自体は動作しておりますため、サービスの再起動などの作業は行っておりません。' },
        { type: 'heading', text: 'お客様へのお願い' },
        {
          type: 'p',
          text: '本サービスでは、弊社管理用ネットワークからお客様サーバへの接続・監視を行っております。ファイアウォール、TCP Wrapper 等でフィルタリングを設定されている場合は、以下のネットワークからの接続を許可していただく必要がございます。',
        },
        { type: 'code', text: nets.join('\n') },
        { type: 'p', text: '設定例（お使いの環境に合わせて読み替えてください。FreeBSD の ipfw・pf をお使いの場合も同様に許可をお願いいたします）:' },
        { type: 'code', text: example },
        { type: 'p', text: '設定の変更後、弊社監視サーバからの接続を確認でき次第、自動的に通常の監視に戻ります。' },
        { type: 'heading', text: '確認した内容' },
        { type: 'list', items: evidence },
        { type: 'heading', text: '概要' },
        {
          type: 'fields',
          rows: [
            ['サーバ', serverLine(n)],
            ['サービス', svc(n)],
            ['検知日時', ctx.dt(f.detectedAt)],
          ],
        },
        { type: 'p', text: CLOSING },
        signature(ctx, n),
      ],
    };
  },

  'not-ready'(n, ctx) {
    const f = n.facts;
    const failing = f.checks.filter((c) => !c.ok);
    return {
      subject: `${target(n)}: 障害復旧の準備が整っていません（ご確認のお願い）`,
      blocks: [
        ...opening(n, ctx),
        {
          type: 'p',
          text: `お客様のサーバ ${serverLine(n)} について、障害発生時に復旧作業を行えるかどうかの定期確認を行いましたところ、以下の項目で問題が見つかりました。\nこのままでは、障害が発生した際に一次対応手順による復旧作業を行うことができません。お手数ですが、ご確認をお願いいたします。`,
        },
        { type: 'heading', text: '確認結果' },
        {
          type: 'list',
          items: f.checks.map((c) => `${READINESS[c.check].label}: ${c.ok ? '問題ありません' : '問題があります'}${c.detail ? `（${c.detail}）` : ''}`),
        },
        { type: 'heading', text: 'お客様へのお願い' },
        { type: 'list', items: failing.map((c) => READINESS[c.check].ask) },
        { type: 'p', text: '※パスワードやパスフレーズは、本メールへのご返信ではなく、所定の方法で弊社宛にご連絡ください。' },
        { type: 'fields', rows: [['確認日時', ctx.dt(f.checkedAt)]] },
        { type: 'p', text: CLOSING },
        signature(ctx, n),
      ],
    };
  },

  'provider-working'(n, ctx) {
    const f = n.facts;
    const services = (f.services ?? []).map((x) => serviceLabel(x));
    const intro =
      f.origin === 'repair'
        ? `お客様のサーバ ${serverLine(n)} の${services.length > 0 ? services.join('、') : 'サービス'}が応答しなくなりました。弊社側の不具合により、復旧作業を開始することができておりません（お客様のサーバ側の問題ではございません）。`
        : `お客様のサーバ ${serverLine(n)} の障害時に復旧作業を行うための弊社側の設備に、不具合が見つかりました。お客様のサーバには影響はございません。`;
    return {
      subject: `${target(n)}: 弊社側の不具合に対応しております`,
      blocks: [
        ...opening(n, ctx),
        { type: 'p', text: `${intro}\n担当者が対応を進めております。お客様に行っていただくことはございません。` },
        { type: 'p', text: '監視は継続しております。対応が完了しましたら、あらためてご連絡いたします。' },
        { type: 'fields', rows: [['サーバ', serverLine(n)], ['発生日時', ctx.dt(f.since)]] },
        { type: 'p', text: `ご迷惑をおかけし、申し訳ございません。\n${CLOSING}` },
        signature(ctx, n),
      ],
    };
  },

  'provider-fault'(n, ctx) {
    const f = n.facts;
    const rows: Array<[string, string]> = [
      ['サーバ', serverLine(n)],
      ['原因', f.cause],
      ['検出元', f.origin === 'repair' ? '実行できなかった復旧作業' : '定期の準備確認'],
      ['発生日時', ctx.dt(f.since)],
    ];
    if (f.services !== undefined && f.services.length > 0) rows.push(['保留中のサービス', f.services.join(', ')]);
    return {
      subject: `${target(n)}: 弊社側の不具合により復旧作業を行えません（${f.cause}）`,
      blocks: [
        { type: 'p', text: '運用担当者各位' },
        { type: 'p', text: `提供者側の不具合（${f.cause}）により、${serverLine(n)} の復旧作業を行えません。お客様には、弊社で対応中である旨をお知らせしました。` },
        { type: 'fields', rows },
        { type: 'heading', text: '監視システムの記録' },
        { type: 'code', text: f.message },
        { type: 'heading', text: '対応' },
        { type: 'p', text: `原因（シークレット、コンソールのプロファイルや BMC、弊社ネットワーク）を修正し、mamori check-access ${n.server ? serverLabel(n.server) : 'SERVER'} で確認してください。シークレットやマニフェストが変わると mamori が自動で再確認し、準備が整った時点で一度だけお知らせします。` },
        signature(ctx, n),
      ],
    };
  },

  'readiness-restored'(n, ctx) {
    const f = n.facts;
    const operator = f.cause !== undefined;
    return {
      subject: `${target(n)}: 障害復旧の準備が整いました`,
      blocks: [
        ...(operator ? [{ type: 'p' as const, text: '運用担当者各位' }] : opening(n, ctx)),
        {
          type: 'p',
          text: operator
            ? `${serverLine(n)} の準備確認が再び成功しました（原因: ${f.cause}、${ctx.dt(f.since)} から）。`
            : `${ctx.dt(f.since)} にご連絡した件は解消し、お客様のサーバ ${serverLine(n)} に障害が発生した際の復旧作業を再び行える状態となりました。ご対応ありがとうございました。`,
        },
        { type: 'fields', rows: [['確認日時', ctx.dt(f.checkedAt)]] },
        ...(operator ? [] : [{ type: 'p' as const, text: CLOSING }]),
        signature(ctx, n),
      ],
    };
  },

  'revision-refused'(n, ctx) {
    const f = n.facts;
    const rows: Array<[string, string]> = [['リビジョン', f.revision]];
    if (f.source) rows.push(['取得元', f.source]);
    rows.push(['適用中のリビジョン', f.keptRevision ?? '（なし）']);
    return {
      subject: `リビジョン ${f.revision} を適用しませんでした（マニフェストの誤り）`,
      blocks: [
        { type: 'p', text: '運用担当者様' },
        {
          type: 'p',
          text: `マニフェストのリビジョン ${f.revision} に誤りがあるため、適用しませんでした。\n${f.keptRevision ? `引き続きリビジョン ${f.keptRevision} の内容で監視・復旧を行っております。` : '適用済みのリビジョンはございません。'}`,
        },
        { type: 'heading', text: '誤りの内容' },
        {
          type: 'list',
          ordered: true,
          items: f.errors.map((e) => `${e.file}${e.line !== undefined ? `:${e.line}` : ''}${e.field ? ` ${e.field}` : ''}\n${e.message}`),
        },
        { type: 'heading', text: '概要' },
        { type: 'fields', rows },
        signature(ctx, n),
      ],
    };
  },

  'change-refused'(n, ctx) {
    const f = n.facts;
    const customer = f.customer !== undefined;
    const rows: Array<[string, string]> = [['適用したリビジョン', f.revision]];
    if (f.source && !customer) rows.push(['取得元', f.source]);
    const files = [...new Set(f.changes.map((c) => c.file))];
    return {
      subject: `変更を適用しませんでした: ${files.length === 1 ? files[0] : `${files.length} 件のファイル`}（署名者に許可がありません）`,
      blocks: [
        ...(customer ? opening(n, ctx) : [{ type: 'p', text: '運用担当者様' } as Block]),
        {
          type: 'p',
          text: `次の変更は、そのファイルを変更する許可のない署名者のコミットによるため、適用しませんでした。各ファイルは最後に適用した内容のままです。リビジョン ${f.revision} のその他の変更は適用しました。`,
        },
        { type: 'heading', text: '適用しなかった変更' },
        {
          type: 'list',
          ordered: true,
          items: f.changes.map(
            (c) =>
              `${c.file}\nコミット ${c.commit}、${SIGNATURE_JA[c.signature]}${c.signature === 'good' ? `: ${c.signer ?? ''}` : c.key ? `（${c.key}）` : ''}\n${c.allowed.length > 0 ? `変更できる署名者: ${c.allowed.join(', ')}` : 'このファイルを変更できる署名者はいません'}${c.kept ? '' : '（新しいファイルのため適用していません）'}`,
          ),
        },
        {
          type: 'p',
          text: 'この変更を適用するには、該当のコミットを取り消し（または履歴から除き）、そのファイルの変更を許可された署名者が署名したコミットで改めて変更してください。',
        },
        { type: 'fields', rows },
        signature(ctx, n),
      ],
    };
  },

  'revision-held'(n, ctx) {
    const f = n.facts;
    const blocks: Block[] = [
      { type: 'p', text: '運用担当者様' },
      {
        type: 'p',
        text: `マニフェストのリビジョン ${f.revision} は確認が必要な変更を含むため、適用を保留しております。\n${f.keptRevision ? `承認されるまで、リビジョン ${f.keptRevision} の内容で監視・復旧を継続いたします。` : '承認されるまで適用いたしません。'}`,
      },
      { type: 'heading', text: '保留の理由' },
      { type: 'p', text: `${f.reason}: ${f.message}` },
    ];
    if (f.affected && f.affected.length > 0) {
      blocks.push({ type: 'heading', text: '影響するサーバ' }, { type: 'list', items: f.affected });
    }
    if (f.releaseCommand) {
      blocks.push({ type: 'p', text: '内容を確認のうえ適用する場合は、次のコマンドを実行してください。' }, { type: 'code', text: f.releaseCommand });
    }
    blocks.push(signature(ctx, n));
    return { subject: `リビジョン ${f.revision} を保留しています（${f.reason}）`, blocks };
  },

  'mass-failure-paused'(n, ctx) {
    const f = n.facts;
    const scope = f.scope.kind === 'network' ? `ネットワーク ${f.scope.value}` : f.scope.kind === 'location' ? `設置場所 ${f.scope.value}` : '全サーバ';
    const blocks: Block[] = [
      { type: 'p', text: '運用担当者様' },
      {
        type: 'p',
        text: `${scope} のサーバ ${f.total} 台のうち ${f.down} 台で、同時に障害を検知いたしました。\n監視システム側のネットワーク障害の可能性があるため、サーバの再起動などの自動復旧作業を停止しております。監視は継続しております。`,
      },
      { type: 'heading', text: '状況' },
      {
        type: 'fields',
        rows: [
          ['範囲', scope],
          ['障害を検知した台数', `${f.down} / ${f.total} 台`],
          ['停止日時', ctx.dt(f.pausedAt)],
        ],
      },
      { type: 'heading', text: '障害を検知したサーバ（一部）' },
      { type: 'list', items: f.servers },
      { type: 'heading', text: 'お願い' },
      { type: 'p', text: '監視サーバ側のネットワークの状態をご確認ください。監視側に問題がないことを確認できましたら、自動復旧を再開してください。' },
    ];
    if (f.resumeCommand) blocks.push({ type: 'code', text: f.resumeCommand });
    blocks.push(signature(ctx, n));
    return { subject: `一斉障害を検知したため自動復旧を停止しました（${f.scope.value}: ${f.total} 台中 ${f.down} 台）`, blocks };
  },

  'console-check-requested'(n, ctx) {
    const f = n.facts;
    const ask: Record<typeof f.reason, { what: string; todo: string }> = {
      'ping-failed': {
        what: `が PING に応答しません（${ctx.dt(f.since)} から）。`,
        todo: 'コンソールでサーバが稼働しているか（画面の表示、カーネルパニックの有無など）をご確認ください。停止している場合は電源の再起動をお願いいたします。稼働している場合は電源の再起動は行わず、ネットワークの状態をご確認ください。',
      },
      'ssh-down': {
        what: `が SSH に応答しません（${ctx.dt(f.since)} から）。SSH でログインできないため、サーバ内の確認ができません。`,
        todo: 'コンソールからログインし、sshd が動作しているかご確認ください。停止している場合は sshd の再起動をお願いいたします。',
      },
      'power-state-unknown': {
        what: `について、電源制御から電源の状態を取得できません（${ctx.dt(f.since)} から）。`,
        todo: 'サーバの電源の状態をご確認ください。',
      },
      'console-unreachable': {
        what: `について、コンソール（BMC）に接続できません（${ctx.dt(f.since)} から）。`,
        todo: 'BMC の状態と、BMC へのネットワーク接続をご確認ください。',
      },
      'vantage-lost': {
        what: `が弊社監視ネットワークから応答しません（${ctx.dt(f.since)} から）。他の監視拠点からの報告が足りないため、一つのネットワークの判断だけでは電源の再起動を行いません。`,
        todo: '下記の監視拠点のエージェントと、そこからの経路をご確認ください。あわせてコンソールでサーバが稼働しているかご確認のうえ、停止している場合は電源の再起動をお願いいたします。',
      },
      'vantage-disagreement': {
        what: `が一方の監視ネットワークからは応答せず、もう一方からは応答しています（${ctx.dt(f.since)} から）。多数のサーバで同時に起きているため、弊社側のネットワークの障害と考えられ、自動復旧は行いません。`,
        todo: '下記の監視ネットワーク（上位回線、経路、ファイアウォール）をご確認ください。監視拠点の判断が一致すれば自動的に再開します。',
      },
    };
    const item = ask[f.reason];
    const rows: Array<[string, string]> = [['サーバ', serverLine(n)]];
    if (n.server) rows.push(['お客様', n.server.customer]);
    if (f.console?.site) rows.push(['設置場所', f.console.site]);
    if (f.console?.rack) rows.push(['ラック', f.console.rack]);
    if (f.console?.profile) rows.push(['コンソール', f.console.profile]);
    const blocks: Block[] = [
      { type: 'p', text: '運用担当者様' },
      { type: 'p', text: `サーバ ${serverLine(n)} ${item.what}\n自動での確認ができないため、データセンターにてコンソールでの確認をお願いいたします。` },
      { type: 'heading', text: '確認していただきたいこと' },
      { type: 'p', text: f.question ? `${item.todo}\n${f.question}` : item.todo },
      { type: 'heading', text: '対象' },
      { type: 'fields', rows },
      signature(ctx, n),
    ];
    return { subject: `${target(n)}: コンソールでの確認をお願いします`, blocks };
  },

  digest(n, ctx) {
    const f = n.facts;
    const items = f.items.map((i) => `${ctx.time(i.occurredAt)} ${i.service ? `${serviceLabel(i.service)}: ` : ''}${KIND_SHORT[i.kind]}${i.incidentId ? `（${i.incidentId}）` : ''}`);
    return {
      subject: `${target(n) || '通知'}: お知らせのまとめ（${f.items.length} 件）`,
      blocks: [
        ...opening(n, ctx),
        {
          type: 'p',
          text: `${n.server ? `お客様のサーバ ${serverLine(n)} について、` : ''}短時間に多数のお知らせが発生いたしましたため、以下の期間の分をまとめてお送りいたします。\n障害が繰り返し発生している可能性がございます。サーバの負荷状況やログをご確認いただけますと幸いです。`,
        },
        { type: 'heading', text: '期間' },
        { type: 'p', text: `${ctx.dt(f.windowStart)} 〜 ${ctx.dt(f.windowEnd)}` },
        { type: 'heading', text: `お知らせの一覧（${f.items.length} 件、古い順）` },
        { type: 'list', items: elide(items, 40, (omitted) => `…（途中の ${omitted} 件は省略しました）…`) },
        { type: 'p', text: `最新の状況は、一覧の最後の項目のとおりです。\n${CLOSING}` },
        signature(ctx, n),
      ],
    };
  },
  'monthly-report': monthlyReportJa,
  'certificate-expiring': certificateExpiringJa,
  'certificate-invalid': certificateInvalidJa,
};
