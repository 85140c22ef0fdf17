/**
 * The invalid corpus: each case is a manifests tree in test/fixtures/invalid/<case>/
 * and the one finding it must produce (file, line, field, rule; optionally words of
 * the message). corpus.test.ts runs all of them through the API, cli-validate.test.ts
 * a few through the binary.
 */
export interface CorpusCase {
  case: string;
  file: string;
  line: number;
  field: string;
  rule: string;
  /** Text the message must contain. */
  says?: RegExp;
}

const S = 'customers/acme/servers/web01.yaml';
const R = 'customers/acme/runbooks/acme-httpd.yaml';

export const CORPUS: CorpusCase[] = [
  // Hostile YAML and files
  { case: 'yaml-syntax', file: S, line: 9, field: '', rule: 'yaml-syntax' },
  { case: 'duplicate-key', file: S, line: 10, field: 'spec.address', rule: 'yaml-duplicate-key' },
  { case: 'custom-tag', file: S, line: 7, field: 'spec.address', rule: 'yaml-tag' },
  { case: 'alias-bomb', file: S, line: 7, field: 'metadata.labels.d[9]', rule: 'yaml-alias' },
  { case: 'deep-flow-nesting', file: S, line: 10, field: '', rule: 'yaml-depth' },
  { case: 'deep-block-nesting', file: S, line: 42, field: 'spec.location.k0.k1.k2.k3.k4.k5.k6.k7.k8.k9.k10.k11.k12.k13.k14.k15.k16.k17.k18.k19.k20.k21.k22.k23.k24.k25.k26.k27.k28.k29.k30', rule: 'yaml-depth' },
  { case: 'multiple-documents', file: S, line: 17, field: '', rule: 'yaml-multiple-documents' },
  { case: 'binary-nul', file: S, line: 1, field: '', rule: 'file-binary' },
  { case: 'invalid-utf8', file: S, line: 1, field: '', rule: 'file-binary' },
  // Values that end up in commands, file names and mail headers
  { case: 'shell-in-address', file: S, line: 7, field: 'spec.address', rule: 'hostile-shell' },
  { case: 'shell-in-name', file: S, line: 4, field: 'metadata.name', rule: 'hostile-shell' },
  { case: 'shell-in-service', file: S, line: 12, field: 'spec.services[1]', rule: 'hostile-shell' },
  { case: 'shell-in-process', file: S, line: 14, field: 'spec.services[1].http.process', rule: 'hostile-shell' },
  { case: 'path-in-name', file: S, line: 4, field: 'metadata.name', rule: 'hostile-path', says: /file name/ },
  { case: 'header-in-email', file: S, line: 10, field: 'spec.contact.email', rule: 'hostile-header' },
  { case: 'header-in-contact-name', file: S, line: 12, field: 'spec.contact.name', rule: 'hostile-header' },
  // Secrets written inline
  { case: 'inline-private-key', file: S, line: 16, field: 'spec.access.credentials', rule: 'secret-inline', says: /secretRef/ },
  { case: 'inline-password', file: S, line: 17, field: 'spec.access.password', rule: 'secret-inline', says: /secretRef/ },
  { case: 'inline-sudo-password', file: S, line: 17, field: 'spec.access.sudo.password', rule: 'secret-inline' },
  // Schema
  { case: 'unquoted-version', file: S, line: 8, field: 'spec.os.version', rule: 'schema', says: /quote it/ },
  { case: 'bad-host-key', file: S, line: 15, field: 'spec.access.hostKey', rule: 'schema', says: /SHA256:<43 base64 characters> \(as ssh-keygen -lf prints it\)/ },
  { case: 'bad-cidr', file: S, line: 11, field: 'spec.allowedNetworks[1]', rule: 'schema', says: /CIDR/ },
  { case: 'bad-address', file: S, line: 7, field: 'spec.address', rule: 'schema' },
  { case: 'hostname-address', file: S, line: 7, field: 'spec.address', rule: 'schema', says: /no host names/ },
  { case: 'bad-email', file: S, line: 10, field: 'spec.contact.email', rule: 'schema', says: /e-mail address/ },
  { case: 'bad-secretref-name', file: S, line: 16, field: 'spec.access.credentials.secretRef', rule: 'schema' },
  { case: 'unknown-field', file: S, line: 11, field: 'spec.allowedNetwork', rule: 'schema', says: /did you mean allowedNetworks/ },
  { case: 'wrong-kind', file: S, line: 2, field: 'kind', rule: 'schema' },
  { case: 'step-with-two-kinds', file: R, line: 10, field: 'spec.steps[1]', rule: 'schema', says: /^a step needs exactly one of check, run, verify, console, power, escalate$/ },
  { case: 'step-with-no-kind', file: R, line: 11, field: 'spec.steps[2]', rule: 'schema', says: /exactly one of/ },
  // Ownership
  { case: 'server-under-operator', file: 'operator/runbooks/web01.yaml', line: 2, field: 'kind', rule: 'owner-kind' },
  { case: 'operator-runbook-with-customer', file: 'operator/runbooks/acme-httpd.yaml', line: 5, field: 'metadata.customer', rule: 'owner-customer' },
  { case: 'customer-mismatch', file: S, line: 5, field: 'metadata.customer', rule: 'owner-customer' },
  { case: 'customer-missing', file: S, line: 3, field: 'metadata.customer', rule: 'owner-customer' },
  { case: 'runbook-in-other-customer-folder', file: 'customers/globex/runbooks/acme-httpd.yaml', line: 5, field: 'metadata.customer', rule: 'owner-customer' },
  { case: 'runbook-of-other-customer', file: S, line: 17, field: 'spec.runbooks.http', rule: 'owner-reference', says: /belongs to customer globex/ },
  { case: 'secret-of-other-customer', file: S, line: 16, field: 'spec.access.credentials.secretRef', rule: 'owner-secret', says: /start with acme-/ },
  { case: 'console-profile-unknown', file: S, line: 17, field: 'spec.console.profile', rule: 'owner-console-profile' },
  { case: 'console-command-in-manifest', file: S, line: 19, field: 'spec.console.command', rule: 'owner-console-profile', says: /never a command/ },
  { case: 'wrong-place', file: 'customers/acme/notes/web01.yaml', line: 1, field: '', rule: 'owner-location' },
  { case: 'stray-server-at-top', file: 'servers/web01.yaml', line: 1, field: '', rule: 'file-stray', says: /reads no manifest here/ },
  { case: 'yml-extension', file: 'customers/acme/servers/web01.yml', line: 1, field: '', rule: 'file-name' },
  { case: 'file-name-mismatch', file: S, line: 4, field: 'metadata.name', rule: 'file-name' },
  // Across documents, and against the catalog and the config
  { case: 'unresolved-runbook', file: S, line: 17, field: 'spec.runbooks.http', rule: 'reference' },
  { case: 'service-without-runbook', file: S, line: 12, field: 'spec.services[1]', rule: 'runbook-missing' },
  { case: 'os-ubuntu', file: S, line: 8, field: 'spec.os.family', rule: 'os-refused', says: /Ubuntu is not supported.*Windows Server/ },
  { case: 'os-windows', file: S, line: 8, field: 'spec.os.family', rule: 'os-refused', says: /FreeBSD 6\.3 or later/ },
  { case: 'os-too-old', file: S, line: 8, field: 'spec.os.version', rule: 'os-version', says: /older than 6\.3/ },
  { case: 'plan-celeron', file: S, line: 9, field: 'spec.plan', rule: 'plan-ineligible', says: /Celeron/ },
  { case: 'plan-unknown', file: S, line: 9, field: 'spec.plan', rule: 'plan-unknown', says: /catalog's plans/ },
  { case: 'management-networks-missing', file: S, line: 11, field: 'spec.allowedNetworks', rule: 'network-management', says: /210\.188\.224\.0\/24/ },
  { case: 'starttls-on-ssh', file: S, line: 12, field: 'spec.services[3].ssh.starttls', rule: 'service-starttls', says: /smtp, pop3, imap and ftp/ },
  { case: 'address-outside-targets', file: S, line: 7, field: 'spec.address', rule: 'network-target' },
  // What mamori connects to or acts on belongs to one server, across customers and within one
  { case: 'duplicate-address-across-customers', file: S, line: 7, field: 'spec.address', rule: 'duplicate-address', says: /^the address 203\.0\.113\.10 is also spec\.address of customers\/globex\/servers\/web02\.yaml:7:/ },
  { case: 'duplicate-bmc', file: 'customers/acme/servers/web02.yaml', line: 17, field: 'spec.console.bmc', rule: 'duplicate-address', says: /BMC address 203\.0\.113\.200 \(port 623\) is also spec\.console\.bmc of customers\/acme\/servers\/web01\.yaml:17/ },
  { case: 'bmc-is-other-server-address', file: 'customers/globex/servers/db01.yaml', line: 7, field: 'spec.address', rule: 'duplicate-address', says: /is also spec\.console\.bmc of customers\/acme\/servers\/web01\.yaml:17/ },
  { case: 'duplicate-console-target', file: S, line: 17, field: 'spec.console.target', rule: 'duplicate-console-target', says: /ts1:7 of profile manual is also spec\.console\.target of customers\/globex\/servers\/db01\.yaml:17/ },
  { case: 'console-target-path', file: S, line: 17, field: 'spec.console.target', rule: 'hostile-path', says: /console token.*never a path/ },
  // IPv4 written as IPv6: parsers disagree on where these lead, so a check could pass what a connection reaches elsewhere
  { case: 'ipv4-mapped-address', file: S, line: 7, field: 'spec.address', rule: 'network-ipv4-embedded', says: /IPv4-mapped.*write the IPv4 address itself/ },
  { case: 'ipv4-compatible-address', file: S, line: 7, field: 'spec.address', rule: 'network-ipv4-embedded', says: /IPv4-compatible/ },
  { case: 'ipv4-mapped-bmc', file: S, line: 17, field: 'spec.console.bmc', rule: 'network-ipv4-embedded', says: /IPv4-mapped/ },
  { case: 'ipv4-mapped-allowed-network', file: S, line: 11, field: 'spec.allowedNetworks[2]', rule: 'network-ipv4-embedded', says: /IPv4 network itself/ },
];

/** Values planted in the corpus that must never come back in a message. */
export const PLANTED_SECRETS = ['hunter2', 'BEGIN OPENSSH', 'b3BlbnNzaC1rZXktdjEA', 'correct horse'];

