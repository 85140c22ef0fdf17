/**
 * `mamori init`: the manifests repository an operator starts from, as a list of files (pure; the
 * command writes them, with the shipped operator documents beside). One example customer with one
 * server, CODEOWNERS with a line per customer folder, the config CI validates with, and CI for
 * GitHub Actions and GitLab CI: `mamori validate` on every change, `mamori plan` posted on the
 * pull (merge) request. The CI files take the commands from shell variables, never from
 * expressions inside a script line, so what they run is the same in a test's shell.
 */

export interface ScaffoldOptions {
  /** The example customer's folder name (customers/<customer>/). */
  customer: string;
  /** Who owns the operator documents and reviews every customer folder (a team handle). */
  owner: string;
  /** How CI installs mamori: an npm package spec (a tarball URL, a registry name). */
  packageSpec: string;
  /** The management networks (every server's allowedNetworks must include them). */
  managementNetworks: readonly string[];
}

export interface ScaffoldFile {
  path: string;
  content: string;
}

/** customers/<name>/: a DNS-label-like name, as the manifests' customer names. */
export const CUSTOMER_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A CODEOWNERS owner: @user, @org/team or an e-mail address; no spaces, no newlines. */
export const OWNER = /^(?:@[A-Za-z0-9][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9][A-Za-z0-9_.-]*)?|[^\s@]+@[^\s@]+)$/;

/** A CODEOWNERS file: the operator folder and the config for the owner, one line per customer folder. */
export function codeowners(owner: string, customers: readonly string[]): string {
  const lines = [
    '# Who reviews what (GitHub and GitLab read this file). One line per customer folder: add the',
    "# customer's own reviewers after the operations team when they may approve their changes.",
    `/operator/ ${owner}`,
    `/mamori.yaml ${owner}`,
    `/CODEOWNERS ${owner}`,
    `/.github/ ${owner}`,
    `/.gitlab-ci.yml ${owner}`,
    ...[...customers].sort().map((c) => `/customers/${c}/ ${owner}`),
  ];
  return `${lines.join('\n')}\n`;
}

function ciConfig(o: ScaffoldOptions): string {
  return `# The config CI validates and plans with. Keep managementNetworks, targetNetworks and
# consoleProfiles as in the daemon's /etc/mamori/mamori.yaml: a manifest is checked against them.
# Secrets are never in this repository: CI needs none (validate and plan only read manifests).
apiVersion: mamori/v1
kind: Config
source: { type: folder, path: . }
managementNetworks: [${o.managementNetworks.join(', ')}]
# Replace with the networks your customers' servers live in (documentation addresses below).
targetNetworks: [203.0.113.0/24]
consoleProfiles:
  ipmi: { driver: ipmi, cipherSuite: 3 }
  manual: { driver: manual }
`;
}

function exampleServer(o: ScaffoldOptions): string {
  const c = o.customer;
  return `# A server of customer ${c}: copy this file per server (its name is the file name).
# The address is a documentation address (RFC 5737): replace it, the host key (ssh-keygen -lf
# /etc/ssh/ssh_host_ed25519_key.pub on the server) and the contact. Secrets are named by
# secretRef and installed on the mamori host, never written here; ${c}'s names start with "${c}-".
apiVersion: mamori/v1
kind: Server
metadata:
  name: web01
  customer: ${c}
  description: Example web server.
spec:
  address: 203.0.113.10
  os: { family: centos, version: "7.9" }
  plan: basic
  contact: { email: ops@${c}.example, name: ${c} operations, locale: en }
  allowedNetworks: [${o.managementNetworks.join(', ')}]
  services:
    - ping
    - http
    - ssh
  access:
    user: mamori
    hostKey: "SHA256:n5b4EE+KUGOtL6UdDkL/CCe7RFkrTSLS1mNAdXJPHyE"
    credentials: { secretRef: ${c}-web01 }
  console: { profile: manual }
`;
}

function githubWorkflow(o: ScaffoldOptions): string {
  return `# mamori on every pull request: validate the manifests (annotations on the changed lines) and
# post what the change does (servers, runbooks rendered and diffed) as a comment.
# Set the repository variable MAMORI_PACKAGE to where CI installs mamori from (a tarball URL or a
# package name); without it, ${o.packageSpec}.
name: mamori
on:
  pull_request:
  push:
    branches: [main]
permissions:
  contents: read
  pull-requests: write
jobs:
  mamori:
    runs-on: ubuntu-latest
    env:
      MAMORI_PACKAGE: \${{ vars.MAMORI_PACKAGE || '${o.packageSpec}' }}
      BASE_REF: \${{ github.base_ref }}
      PR_NUMBER: \${{ github.event.pull_request.number }}
      GH_TOKEN: \${{ github.token }}
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-node@v4
        with:
          node-version: 20
      - name: Install mamori
        run: npm install -g "$MAMORI_PACKAGE"
      - name: Validate
        run: mamori validate --config mamori.yaml --manifests . --format github
      - name: Plan
        if: github.event_name == 'pull_request'
        run: mamori plan --config mamori.yaml --git . --from "origin/$BASE_REF" --to HEAD --format markdown > mamori-plan.md
      - name: Post the plan
        if: github.event_name == 'pull_request'
        run: gh pr comment "$PR_NUMBER" --body-file mamori-plan.md
`;
}

function gitlabCi(o: ScaffoldOptions): string {
  return `# mamori on every merge request: validate the manifests, and post what the change does
# (servers, runbooks rendered and diffed) as a note on the merge request.
# CI/CD variables: MAMORI_PACKAGE (where to install mamori from; default ${o.packageSpec}) and
# MAMORI_NOTE_TOKEN (a project access token with the api scope, to post the note; masked).
mamori:
  image: node:20
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
  variables:
    GIT_DEPTH: "0"
    MAMORI_PACKAGE: ${o.packageSpec}
  before_script:
    - npm install -g "$MAMORI_PACKAGE"
  script:
    - mamori validate --config mamori.yaml --manifests .
    - if [ -n "$CI_MERGE_REQUEST_IID" ]; then git fetch origin "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"; fi
    - if [ -n "$CI_MERGE_REQUEST_IID" ]; then mamori plan --config mamori.yaml --git . --from "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME" --to HEAD --format markdown > mamori-plan.md; fi
    - 'if [ -n "$CI_MERGE_REQUEST_IID" ]; then curl --fail --silent --show-error --request POST --header "PRIVATE-TOKEN: $MAMORI_NOTE_TOKEN" --data-urlencode "body@mamori-plan.md" "$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes" > /dev/null; fi'
  artifacts:
    when: always
    paths: [mamori-plan.md]
`;
}

function readme(o: ScaffoldOptions): string {
  return `# Manifests for mamori

The servers mamori watches and repairs, and the runbooks it runs, changed by pull request.

| path | what |
| --- | --- |
| \`operator/\` | the operator's documents: catalog (systems and plans), review policy, standard runbooks |
| \`customers/<customer>/servers/<name>.yaml\` | a customer's servers |
| \`customers/<customer>/runbooks/<name>.yaml\` | a customer's own runbooks (reviewed against the policy) |
| \`mamori.yaml\` | the config CI validates with (networks and console profiles as on the mamori host) |
| \`CODEOWNERS\` | who reviews what: one line per customer folder |
| \`.github/workflows/mamori.yml\`, \`.gitlab-ci.yml\` | CI: \`mamori validate\`, and \`mamori plan\` posted on the pull request |

Before pushing:

\`\`\`sh
mamori validate --config mamori.yaml --manifests .
mamori plan --config mamori.yaml --git . --from origin/main --to HEAD
\`\`\`

A new customer: \`customers/<customer>/servers/\` (start from \`customers/${o.customer}/servers/web01.yaml\`) and
a line \`/customers/<customer>/ ${o.owner}\` in CODEOWNERS. Secrets never go into this repository.
`;
}

/** Every file of a new manifests repository but the operator documents (copied as shipped). */
export function scaffoldFiles(o: ScaffoldOptions): ScaffoldFile[] {
  return [
    { path: 'README.md', content: readme(o) },
    { path: 'mamori.yaml', content: ciConfig(o) },
    { path: 'CODEOWNERS', content: codeowners(o.owner, [o.customer]) },
    { path: `customers/${o.customer}/servers/web01.yaml`, content: exampleServer(o) },
    { path: `customers/${o.customer}/runbooks/.gitkeep`, content: '' },
    { path: '.github/workflows/mamori.yml', content: githubWorkflow(o) },
    { path: '.gitlab-ci.yml', content: gitlabCi(o) },
    { path: '.gitignore', content: '# Secrets are installed on the mamori host, never committed.\nsecrets/\n*.key\n*.pem\nmamori-plan.md\n' },
  ];
}
