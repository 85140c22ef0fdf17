#!/usr/bin/env node
// Writes docs/reference.md, the field reference, from schemas/*.schema.json: every
// field's path, type, default and description, as an editor shows them. `--check`
// exits 1 when the committed file is out of date (the test suite runs it).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const load = (f) => JSON.parse(readFileSync(join(root, 'schemas', f), 'utf8'));
const files = { 'common.schema.json': load('common.schema.json') };
const documents = [
  ['Server', 'server.schema.json', 'customers/<customer>/servers/<name>.yaml'],
  ['Runbook', 'runbook.schema.json', 'operator/runbooks/<name>.yaml (standard) or customers/<customer>/runbooks/<name>.yaml (custom)'],
  ['Catalog', 'catalog.schema.json', 'operator/catalog.yaml'],
  ['ReviewPolicy', 'policy.schema.json', 'operator/policy.yaml'],
  ['Config', 'config.schema.json', 'mamori.yaml, given with --config (the daemon\'s own, not a manifest)'],
];
for (const [, f] of documents) files[f] = load(f);

function resolve(node, file) {
  if (!node || typeof node !== 'object' || typeof node.$ref !== 'string') return [node, file];
  const [target, pointer] = node.$ref.split('#');
  const tfile = target === '' ? file : target;
  let t = files[tfile];
  for (const seg of (pointer ?? '').split('/').filter(Boolean)) t = t?.[seg];
  const rest = { ...node };
  delete rest.$ref;
  const [inner, innerFile] = resolve(t, tfile);
  return [{ ...inner, ...rest }, innerFile];
}

function typeOf(n) {
  if (n.const !== undefined) return `\`${JSON.stringify(n.const)}\``;
  if (Array.isArray(n.enum)) return n.enum.map((v) => `\`${v}\``).join(' | ');
  const t = Array.isArray(n.type) ? n.type.join(' | ') : n.type;
  if (t === 'array') return 'list';
  if (t === 'object' || n.properties || n.allOf) return 'map';
  if (n.format) return `${t} (${n.format.replace('mamori-', '')})`;
  if (n.pattern) return `${t ?? 'string'} (pattern)`;
  if (n.oneOf) return 'one of the forms below';
  return t ?? 'any';
}

const esc = (s) => String(s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');

function row(n, path, required, out) {
  const def = n.default !== undefined ? `\`${JSON.stringify(n.default)}\`` : '';
  out.push(`| \`${path}\` | ${esc(typeOf(n))} | ${required ? 'yes' : ''} | ${esc(def)} | ${esc(n.title ? `**${n.title}.** ` : '')}${esc(n.description)} |`);
}

/** The fields inside a (resolved) schema node, as rows under `path`. */
function children(n, f, path, out) {
  const join = (k) => (path ? `${path}.${k}` : k);
  const objects = [[n, f]];
  for (const sub of n.allOf ?? []) objects.push(resolve(sub, f));
  // A oneOf of objects (a console profile's drivers, a source's types): each form's fields.
  if (!n.properties) for (const b of n.oneOf ?? []) {
    const [bb, bf] = resolve(b, f);
    if (bb.properties) objects.push([bb, bf]);
  }
  for (const [o, of] of objects) {
    for (const [k, v] of Object.entries(o.properties ?? {})) field(v, of, join(k), (o.required ?? []).includes(k), out);
  }
  if (n.items) {
    const [it, itf] = resolve(n.items, f);
    if (it.oneOf && !it.properties) for (const b of it.oneOf) field(b, itf, `${path}[]`, false, out);
    else if (it.properties || it.allOf || it.oneOf) children(it, itf, `${path}[]`, out);
  }
  if (n.additionalProperties && typeof n.additionalProperties === 'object') {
    const [ap] = resolve(n.additionalProperties, f);
    if (ap.oneOf || ap.properties || ap.type === 'object' || (Array.isArray(ap.type) && ap.type.includes('object'))) field(n.additionalProperties, f, `${path}.<key>`, false, out);
  }
}

function field(node, file, path, required, out) {
  const [n, f] = resolve(node, file);
  if (!n || typeof n !== 'object') return;
  row(n, path, required, out);
  children(n, f, path, out);
}

const RULES = `## Rules a schema cannot say

\`mamori validate\` checks these after the schemas; each finding names its rule in brackets.

| rule | what it refuses |
| --- | --- |
| \`owner-location\` | a document outside the five places of the layout above |
| \`owner-kind\` | a document of the wrong kind for its place (a Server under \`operator/\`, a Catalog in a customer folder) |
| \`owner-customer\` | \`metadata.customer\` missing in a customer folder, naming another customer, or set on an operator document |
| \`owner-reference\` | a server naming another customer's runbook (a server may use its own customer's runbooks and the operator's standard runbooks) |
| \`owner-secret\` | a customer document naming a secret outside its namespace: customer \`acme\`'s secretRefs start with \`acme-\` |
| \`owner-console-profile\` | \`spec.console.profile\` not among the operator's \`consoleProfiles\` (config), or a command written in a manifest: a manifest names a profile, never a command |
| \`file-name\` | \`metadata.name\` different from the file's name (\`web01.yaml\` holds \`name: web01\`), or a file not ending in \`.yaml\` |
| \`duplicate-name\` | two servers with one name within one customer (a server is customer/name: two customers may each have a web01), or two runbooks with one name in any customers' folders. Each finding names the other file and line |
| \`duplicate-address\`, \`duplicate-console-target\` | an address given by two servers, in any customers' folders or one: server addresses and BMC addresses share one namespace (a BMC may not be another server's address); a console target used twice with one console profile. Each finding names the other file and line |
| \`reference\`, \`reference-invalid\`, \`reference-service\` | \`spec.runbooks\` naming a runbook that does not exist, has errors, or does not repair that service |
| \`service-starttls\` | \`starttls: true\` on a service without STARTTLS (it applies to smtp, pop3, imap and ftp; smtps, pop3s and imaps are TLS from the first byte) |
| \`runbook-missing\` | a subscribed service with neither a custom runbook nor a standard one for the server's OS |
| \`os-refused\`, \`os-unsupported\`, \`os-version\`, \`os-variant\` | an OS outside the catalog (the seed accepts FreeBSD 6.3+, RHEL ES 4+, RHEL 5 Server+, CentOS 4+, and refuses Ubuntu and Windows); versions compare number by number, so 10.0 is later than 6.3 |
| \`plan-unknown\`, \`plan-ineligible\` | a plan not in the catalog, or not eligible (Entry, Celeron model) |
| \`network-management\` | \`allowedNetworks\` that do not include the config's \`managementNetworks\` (default 210.224.172.0/24 and 210.188.224.0/24) |
| \`network-target\` | a server address (or BMC) outside the config's \`targetNetworks\`: mamori connects nowhere else |
| \`network-ipv4-embedded\` | an IPv4 address or network written as IPv6 (\`::ffff:a.b.c.d\`, \`::a.b.c.d\`, their hex spellings, any dotted quad inside IPv6), in every address and network field: parsers disagree on where these lead, so a check could pass what a connection reaches elsewhere |
| \`secret-inline\` | a secret written where a \`secretRef\` belongs (a key, a password); the value is never repeated in the finding |
| \`hostile-shell\`, \`hostile-path\`, \`hostile-header\` | shell syntax in values placed into commands, path syntax in names that become file names and in console targets (a token such as \`ts1:7\`, never \`x/../port7\`), line breaks in mail fields |
| \`yaml-syntax\`, \`yaml-duplicate-key\`, \`yaml-tag\`, \`yaml-alias\`, \`yaml-depth\`, \`yaml-multiple-documents\`, \`yaml-key\` | YAML that is invalid, ambiguous or hostile: duplicate keys, tags (\`!name\`), alias bombs, nesting deeper than 32, several documents in one file, complex keys |
| \`file-too-large\`, \`file-binary\`, \`file-symlink\`, \`file-type\`, \`file-depth\`, \`file-count\` | files over 256 KiB (checked before reading), not UTF-8 text, symbolic links that leave the tree or loop (the manifests folder is resolved once; \`customers/\` or \`operator/\` linked outside it is not followed), FIFOs and devices, trees too deep or too large |
| \`file-stray\` | a \`.yaml\`/\`.yml\` file where mamori reads no manifest (outside \`operator/\` and \`customers/\`, such as \`servers/web01.yaml\` at the top): it is never read, and the finding lists the five places. Hidden folders (\`.github/\`) and \`mamori.yaml\` at the top are not strays |
| \`catalog-missing\`, \`policy-missing\` | no operator catalog (error); no review policy (a warning: custom runbooks are checked against no forbidden commands) |
| \`policy-*\` | the operator's review policy for custom runbooks (see \`operator/policy.yaml\`) |
`;

const LAYOUT = `## Layout and owners

\`\`\`
<manifests>/operator/catalog.yaml            Catalog        the operator's
<manifests>/operator/policy.yaml             ReviewPolicy   the operator's
<manifests>/operator/runbooks/<name>.yaml    Runbook        the operator's standard runbooks (no metadata.customer)
<manifests>/customers/<c>/servers/<name>.yaml   Server      customer c's (metadata.customer: c)
<manifests>/customers/<c>/runbooks/<name>.yaml  Runbook     customer c's own runbooks (metadata.customer: c)
\`\`\`

Without \`operator/\`, mamori uses the config's \`operatorDir\`, else its own \`manifests/operator/\`.
Everything else in the tree (README, CI files, \`mamori.yaml\`) is ignored. Secrets are never written in
a manifest: a \`secretRef\` names a file in the daemon's secrets folder or \`MAMORI_SECRET_<NAME>\`
(upper case, hyphens as underscores), and a customer's secret names start with \`<customer>-\`.
`;

let md = `<!-- Generated by scripts/gen-reference.mjs from schemas/*.schema.json. Do not edit: change the schema, then \`node scripts/gen-reference.mjs\`. -->

# Field reference

Every document starts with \`apiVersion: mamori/v1\` and its \`kind\`, and may carry a modeline such as
\`# yaml-language-server: $schema=../../../../schemas/server.schema.json\` for help and completion in an
editor. A field path \`a.b[]\` is an entry of the list \`a.b\`; \`a.<key>\` an entry of a map.

${LAYOUT}
`;
for (const [kind, f, where] of documents) {
  const schema = files[f];
  const out = [];
  children(schema, f, '', out);
  md += `## ${kind}\n\n${esc(schema.description)}\n\nWhere: \`${where}\`. Schema: [\`schemas/${f}\`](../schemas/${f}).\n\n| field | type | required | default | description |\n| --- | --- | --- | --- | --- |\n${out.join('\n')}\n\n`;
}
md += RULES;

const target = join(root, 'docs/reference.md');
if (process.argv.includes('--check')) {
  let current = '';
  try { current = readFileSync(target, 'utf8'); } catch { /* missing counts as stale */ }
  if (current !== md) {
    console.error('docs/reference.md is out of date: run node scripts/gen-reference.mjs');
    process.exit(1);
  }
} else {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, md);
}
