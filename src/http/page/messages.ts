/**
 * The status page's words in Japanese and English. The language is the reader's explicit choice
 * (`?lang=`, kept in a cookie), else the browser's Accept-Language (a Japanese browser asks for
 * ja), else English (tools such as curl ask for nothing). State names (Healthy, Down…) stay as they are in the API and the status files, and
 * are explained beside them in the reader's language. Pure.
 */
import type { PhaseKind } from '../../status/incident-phases.ts';

export type PageLang = 'ja' | 'en';
export const PAGE_LANGS: readonly PageLang[] = ['ja', 'en'];
export const LANG_COOKIE = 'mamori_lang';

/** `ja`/`en` from `?lang=`, the cookie, then Accept-Language by q-value; English when none says. */
export function pickLang(explicit: string | null | undefined, cookie: string | undefined, acceptLanguage: string | undefined): PageLang {
  for (const v of [explicit, cookie]) if (v === 'ja' || v === 'en') return v;
  let best: { lang: PageLang; q: number } | undefined;
  // Bounded: a header longer than this is read up to here (no backtracking regex either).
  for (const part of (acceptLanguage ?? '').slice(0, 512).split(',').slice(0, 20)) {
    const [tag = '', ...params] = part.trim().split(';');
    const primary = tag.trim().toLowerCase().split('-')[0];
    if (primary !== 'ja' && primary !== 'en') continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q) || q <= 0) continue;
    if (best === undefined || q > best.q) best = { lang: primary, q };
  }
  return best?.lang ?? 'en';
}

export interface PageText {
  htmlLang: string;
  statusTitle: string;
  failingTitle(n: number): string;
  revision: string;
  sourceFailing: string;
  sourceInSync: string;
  firstSync: string;
  updated: string;
  live: string;
  reconnecting: string;
  footer: string;
  language: string;
  ago(seconds: number): string;
  servers: string;
  openIncidents: string;
  customer: string;
  all: string;
  noServersYet: string;
  noServerOfCustomer: string;
  gridCaption: string;
  server: string;
  notWatched: string;
  ready: string;
  notReady: string;
  pending: string;
  open(n: number): string;
  notMonitored(n: number): string;
  legend: string;
  stateWords: Record<string, string>;
  fleet: string;
  noSuchServer: string;
  revisionLine: string;
  statusUpdated: string;
  /** With replicas: which replica owns (probes and judges) the server. */
  ownedBy(replica: string): string;
  services: string;
  conditions: string;
  conditionHead: [string, string, string, string, string];
  conditionsNote: string;
  openIncidentsHead: string;
  recentIncidents: string;
  none: string;
  detected: string;
  opened: string;
  closed: string;
  attempts: string;
  /** The incident's time to recovery, phase by phase (incident-phases.ts). */
  phasesHead: string;
  phaseNames: Record<PhaseKind, string>;
  noneYet: string;
  running: string;
  noTranscript: string;
  transcriptsLocked: string;
  lastProbe: string;
  up: string;
  failed: string;
  unknown: string;
  notProbedYet: string;
  failuresInRow(n: number): string;
  held: string;
  latency: string;
  uptime24h: string;
  uptime30d: string;
  uptimeNone: string;
  uptimeBucket(up: string, down: string, unknown: string): string;
  inMaintenanceUntil: string;
  nextMaintenance: string;
  maintenanceNote: string;
  massFailureTitle: string;
  massFailure(down: number, total: number, scope: string): string;
  massFailureNote: string;
  heldTitle(rev: string, reason: string): string;
  stillRunningOn(rev: string): string;
  applyWith: string;
  refusedTitle(rev: string, reason: string): string;
  manifestsRefused(n: number): string;
  findings(n: number, rev: string): string;
  more(n: number): string;
  /** Customers beyond the chips shown (the search finds them). */
  moreCustomers(n: number): string;
  findLabel: string;
  findPlaceholder: string;
  stateFilter: string;
  allStates: string;
  problemsOnly: string;
  find: string;
  pages: string;
  previous: string;
  next: string;
  rowsOf(from: number, to: number, of: number): string;
  pageOf(page: number, pages: number): string;
  noMatch: string;
  clearFilter: string;
  sourceFailingTitle(n: number): string;
  keepsWatching(rev: string): string;
  cert: { label: string; unknown: string; expired(day: string): string; expires(day: string, days: number): string; selfSigned: string; untrusted(code: string): string; nameMismatch: string };
}

const EN: PageText = {
  htmlLang: 'en',
  statusTitle: 'mamori status',
  failingTitle: (n) => `(${n} failing) mamori status`,
  revision: 'revision',
  sourceFailing: 'source failing',
  sourceInSync: 'source in sync',
  firstSync: 'first sync…',
  updated: 'updated',
  live: '● live',
  reconnecting: '○ reconnecting…',
  footer: 'Read-only view of what mamori sees. States are written in words as well as colours.',
  language: 'Language',
  ago: (s) => (s < 60 ? `${s} s ago` : s < 3600 ? `${Math.floor(s / 60)} min ago` : s < 86400 ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago` : `${Math.floor(s / 86400)} d ago`),
  servers: 'servers',
  openIncidents: 'open incidents',
  customer: 'Customer',
  all: 'All',
  noServersYet: 'No servers are watched yet: the first revision has not been applied, or it lists none.',
  noServerOfCustomer: 'No server of this customer.',
  gridCaption: 'Services of each server; the state is written in each cell',
  server: 'Server',
  notWatched: 'not watched',
  ready: 'Ready',
  notReady: 'Not ready',
  pending: 'Pending',
  open: (n) => `${n} open`,
  notMonitored: (n) => `Not monitored (${n})`,
  legend: 'Legend',
  stateWords: { Healthy: 'answering', Recovered: 'recovered', Unknown: 'not probed yet', Suspect: 'a probe failed', Remediating: 'runbook running', Down: 'not answering', Escalated: 'needs a person' },
  fleet: '← Fleet',
  noSuchServer: 'No server of that name is watched here.',
  revisionLine: 'Revision',
  statusUpdated: 'status updated',
  ownedBy: (r) => `watched by replica ${r}`,
  services: 'Services',
  conditions: 'Conditions',
  conditionHead: ['Type', 'Status', 'Reason', 'Message', 'Since'],
  conditionsNote: 'Conditions that are False (no trouble) are not listed.',
  openIncidentsHead: 'Open incidents',
  recentIncidents: 'Recent incidents',
  none: 'None.',
  detected: 'Detected',
  opened: 'Opened',
  closed: 'Closed',
  attempts: 'Attempts',
  phasesHead: 'Time to recovery, phase by phase',
  phaseNames: {
    'first-failing-probe': 'first failing probe',
    'confirmed-down': 'confirmed Down',
    'runbook-started': 'runbook started',
    step: 'step',
    'recovery-confirmed': 'outside probe confirmed the recovery',
    'runbook-finished': 'runbook finished',
    closed: 'closed',
  },
  noneYet: 'none yet',
  running: 'running…',
  noTranscript: 'No transcript yet.',
  transcriptsLocked: 'Transcripts are shown with the page token.',
  lastProbe: 'last probe',
  up: 'up',
  failed: 'failed',
  unknown: 'unknown',
  notProbedYet: 'not probed yet',
  failuresInRow: (n) => `${n} failures in a row`,
  held: 'held',
  latency: 'latency',
  uptime24h: '24 h',
  uptime30d: '30 days',
  uptimeNone: 'no history yet',
  uptimeBucket: (up, down, unknown) => `up ${up}, down ${down}, unknown ${unknown}`,
  inMaintenanceUntil: 'In maintenance until',
  nextMaintenance: 'Next maintenance window',
  maintenanceNote: 'probes go on, nothing is repaired.',
  massFailureTitle: 'Remediation paused: mass failure',
  massFailure: (down, total, scope) => `${down} of ${total} servers failing in ${scope}`,
  massFailureNote: 'Nothing is restarted or power-cycled until they recover; it resumes by itself.',
  heldTitle: (rev, reason) => `Revision ${rev} held (${reason})`,
  stillRunningOn: (rev) => `still running on ${rev}.`,
  applyWith: 'Apply it with',
  refusedTitle: (rev, reason) => `Revision ${rev} refused (${reason})`,
  manifestsRefused: (n) => `${n === 1 ? 'A manifest was refused' : `${n} manifests were refused`}: running on the last good version`,
  findings: (n, rev) => `${n} finding${n === 1 ? '' : 's'} in revision ${rev}`,
  more: (n) => `… and ${n} more`,
  moreCustomers: (n) => `and ${n.toLocaleString('en')} more customers: search finds them`,
  findLabel: 'Find servers',
  findPlaceholder: 'Search customer/name',
  stateFilter: 'State',
  allStates: 'every state',
  problemsOnly: 'problems only (Suspect or worse, open incidents)',
  find: 'Search',
  pages: 'Pages',
  previous: '‹ previous',
  next: 'next ›',
  rowsOf: (from, to, of) => `servers ${from.toLocaleString('en')}–${to.toLocaleString('en')} of ${of.toLocaleString('en')}, the ones in trouble first`,
  pageOf: (page, pages) => `page ${page.toLocaleString('en')} of ${pages.toLocaleString('en')}`,
  noMatch: 'No server matches this search.',
  clearFilter: 'Show every server',
  sourceFailingTitle: (n) => `The manifest source is failing (${n}×)`,
  keepsWatching: (rev) => `mamori keeps watching on revision ${rev}.`,
  cert: {
    label: 'TLS certificate',
    unknown: 'expiry unknown',
    expired: (d) => `expired ${d}`,
    expires: (d, n) => `expires ${d} (${n} d)`,
    selfSigned: 'self-signed',
    untrusted: (c) => `untrusted (${c})`,
    nameMismatch: 'name mismatch',
  },
};

const JA: PageText = {
  htmlLang: 'ja',
  statusTitle: 'mamori 稼働状況',
  failingTitle: (n) => `（${n} 台で障害）mamori 稼働状況`,
  revision: 'リビジョン',
  sourceFailing: 'マニフェストの取得に失敗',
  sourceInSync: 'マニフェスト同期済み',
  firstSync: '初回の同期中…',
  updated: '更新',
  live: '● 自動更新中',
  reconnecting: '○ 再接続中…',
  footer: 'mamori が監視している状態を表示しています（閲覧専用）。状態は色だけでなく文字でも示しています。',
  language: '表示言語',
  ago: (s) => (s < 60 ? `${s} 秒前` : s < 3600 ? `${Math.floor(s / 60)} 分前` : s < 86400 ? `${Math.floor(s / 3600)} 時間 ${Math.floor((s % 3600) / 60)} 分前` : `${Math.floor(s / 86400)} 日前`),
  servers: 'サーバ',
  openIncidents: '対応中の障害',
  customer: 'お客様',
  all: 'すべて',
  noServersYet: '監視中のサーバはまだありません（最初のリビジョンが適用されていないか、サーバが登録されていません）。',
  noServerOfCustomer: 'このお客様のサーバはありません。',
  gridCaption: 'サーバごとのサービスの状態（各欄に状態を文字で記載）',
  server: 'サーバ',
  notWatched: '監視対象外',
  ready: '正常',
  notReady: '要確認',
  pending: '確認中',
  open: (n) => `障害 ${n} 件`,
  notMonitored: (n) => `監視していないサーバ（${n} 台）`,
  legend: '凡例',
  stateWords: { Healthy: '応答あり', Recovered: '復旧済み', Unknown: '未確認', Suspect: '応答なし（確認中）', Remediating: '復旧作業中', Down: '応答なし', Escalated: '担当者が対応' },
  fleet: '← 一覧',
  noSuchServer: 'その名前のサーバはここでは監視していません。',
  revisionLine: 'リビジョン',
  statusUpdated: '状態の更新',
  ownedBy: (r) => `担当レプリカ ${r}`,
  services: 'サービス',
  conditions: '状態の詳細',
  conditionHead: ['種類', '状態', '理由', '内容', '変化した時刻'],
  conditionsNote: '問題のない項目（False）は表示していません。',
  openIncidentsHead: '対応中の障害',
  recentIncidents: '最近の障害',
  none: 'ありません。',
  detected: '検知',
  opened: '対応開始',
  closed: '終了',
  attempts: '復旧作業',
  phasesHead: '復旧までの経過',
  phaseNames: {
    'first-failing-probe': '最初の監視失敗',
    'confirmed-down': '障害と判定',
    'runbook-started': '復旧作業の開始',
    step: '手順',
    'recovery-confirmed': '外部からの監視で復旧を確認',
    'runbook-finished': '復旧作業の終了',
    closed: '終了',
  },
  noneYet: 'まだありません',
  running: '実行中…',
  noTranscript: '作業記録はまだありません。',
  transcriptsLocked: '作業記録はページのトークンをお持ちの方に表示されます。',
  lastProbe: '最終確認',
  up: '応答あり',
  failed: '応答なし',
  unknown: '不明',
  notProbedYet: '未確認',
  failuresInRow: (n) => `${n} 回連続で応答なし`,
  held: '保留',
  latency: '応答時間',
  uptime24h: '24 時間',
  uptime30d: '30 日間',
  uptimeNone: '記録はまだありません',
  uptimeBucket: (up, down, unknown) => `応答あり ${up}・応答なし ${down}・不明 ${unknown}`,
  inMaintenanceUntil: 'メンテナンス中（終了予定',
  nextMaintenance: '次回のメンテナンス',
  maintenanceNote: '監視は継続し、復旧作業は行いません。',
  massFailureTitle: '復旧作業を一時停止しています（多数のサーバで同時に障害）',
  massFailure: (down, total, scope) => `${scope} のサーバ ${total} 台のうち ${down} 台で障害`,
  massFailureNote: '監視側の障害の可能性があるため、回復するまで再起動や電源操作は行いません。回復後は自動で再開します。',
  heldTitle: (rev, reason) => `リビジョン ${rev} を保留中（${reason}）`,
  stillRunningOn: (rev) => `現在はリビジョン ${rev} で動作しています。`,
  applyWith: '適用するには',
  refusedTitle: (rev, reason) => `リビジョン ${rev} を適用しませんでした（${reason}）`,
  manifestsRefused: (n) => `${n} 件のマニフェストに誤りがあります（最後に正しかった内容で監視を継続しています）`,
  findings: (n, rev) => `リビジョン ${rev} の指摘事項 ${n} 件`,
  more: (n) => `…ほか ${n} 件`,
  moreCustomers: (n) => `ほか ${n.toLocaleString('ja')} 社（検索で表示できます）`,
  findLabel: 'サーバの検索',
  findPlaceholder: 'お客様/サーバ名で検索',
  stateFilter: '状態',
  allStates: 'すべての状態',
  problemsOnly: '問題のあるサーバのみ（Suspect 以上・対応中の障害）',
  find: '検索',
  pages: 'ページ',
  previous: '‹ 前へ',
  next: '次へ ›',
  rowsOf: (from, to, of) => `${of.toLocaleString('ja')} 台中 ${from.toLocaleString('ja')}–${to.toLocaleString('ja')} 台目（問題のあるサーバから表示）`,
  pageOf: (page, pages) => `${pages.toLocaleString('ja')} ページ中 ${page.toLocaleString('ja')} ページ目`,
  noMatch: '条件に合うサーバはありません。',
  clearFilter: 'すべてのサーバを表示',
  sourceFailingTitle: (n) => `マニフェストの取得に失敗しています（${n} 回）`,
  keepsWatching: (rev) => `リビジョン ${rev} で監視を継続しています。`,
  cert: {
    label: 'SSL 証明書',
    unknown: '有効期限不明',
    expired: (d) => `${d} に期限切れ`,
    expires: (d, n) => `有効期限 ${d}（残り ${n} 日）`,
    selfSigned: '自己署名',
    untrusted: (c) => `検証できません（${c}）`,
    nameMismatch: 'ホスト名が一致しません',
  },
};

export const PAGE_TEXT: Readonly<Record<PageLang, PageText>> = { ja: JA, en: EN };
