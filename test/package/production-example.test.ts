/**
 * packaging/production/mamori.yaml is the config README's "Running it for real" starts from: it
 * must stay valid and complete — a git source with signed commits, an SMTP relay with auth from
 * a secret, the HTTP token and webhook secret, two management networks, console profiles — and
 * `mamori validate` must accept the examples' manifests under it.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { REPO_ROOT } from '../source/git-fixture.ts';

const CONFIG = join(REPO_ROOT, 'packaging', 'production', 'mamori.yaml');

describe('packaging/production', () => {
  it('is a complete production config', async () => {
    const c = await loadConfig(CONFIG);
    expect(c.source.type).toBe('git');
    if (c.source.type !== 'git') return;
    expect(c.source.url).toMatch(/^ssh:\/\//);
    expect(c.source.credentials?.secretRef).toBeTruthy();
    expect(c.signing?.allowedSigners).toBe('/etc/mamori/allowed_signers');
    expect(c.signing?.operatorSigners.length).toBeGreaterThan(0);
    expect(c.mail.smtp?.host).toBeTruthy();
    expect(c.mail.smtp?.auth?.secretRef).toBeTruthy();
    expect(c.http.token?.secretRef).toBeTruthy();
    expect(c.http.webhookSecret?.secretRef).toBeTruthy();
    expect(c.managementNetworks).toHaveLength(2);
    expect(Object.keys(c.consoleProfiles).sort()).toEqual(['dc1-ipmi', 'dc2-console', 'manual']);
    expect(c.stateDir).toBe('/var/lib/mamori');
    expect(c.secretsDir).toBe('/etc/mamori/secrets');
  });

  it('mamori validate accepts the examples under it', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'bin', 'mamori.js'), 'validate', '--manifests', 'examples', '--config', CONFIG], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^valid: 4 servers, \d+ runbooks/);
  });
});
