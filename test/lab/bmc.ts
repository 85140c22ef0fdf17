import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { run } from './run.ts';
import type { PowerAction, PowerState } from './types.ts';

export const BMC_USER = 'admin';

export interface BmcPlan {
  dir: string;
  name: string;
  port: number;
  hostDir: string;
  labDir: string;
}

/** Writes the ipmi_sim configuration of one host's BMC; the password goes to a 0600 file only. */
export async function writeBmc(plan: BmcPlan): Promise<{ passwordFile: string }> {
  await mkdir(join(plan.dir, 'state'), { recursive: true, mode: 0o700 });
  // 16 characters: ipmi_sim keeps IPMI 1.5's 16-byte passwords, a longer one never matches.
  const password = randomBytes(8).toString('hex');
  const passwordFile = join(plan.dir, 'password');
  await writeFile(passwordFile, password, { mode: 0o600 });
  const guid = randomBytes(16).toString('hex');
  const auths = 'none md2 md5 straight';
  const lan = `# BMC of lab host ${plan.name}
name "${plan.name}-bmc"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 ${plan.port}
    priv_limit admin
    allowed_auths_callback ${auths}
    allowed_auths_user ${auths}
    allowed_auths_operator ${auths}
    allowed_auths_admin ${auths}
    guid ${guid}
  endlan
  chassis_control "${plan.labDir}/bin/chassis.sh ${plan.hostDir}"
user 2 true "${BMC_USER}" "${password}" admin 10 ${auths}
`;
  await writeFile(join(plan.dir, 'lan.conf'), lan, { mode: 0o600 });
  await writeFile(
    join(plan.dir, 'host.emu'),
    'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nsel_enable 0x20 1000 0x0a\nmc_enable 0x20\n',
  );
  return { passwordFile };
}

/** Starts ipmi_sim detached (it outlives an `npm run lab -- up`); returns its pid. */
export function startBmc(dir: string): number {
  const log = openSync(join(dir, 'ipmi_sim.log'), 'a');
  const child = spawn(
    'ipmi_sim',
    ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'host.emu'), '-s', join(dir, 'state'), '-n'],
    { detached: true, stdio: ['ignore', log, log] },
  );
  closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new Error(`lab: ipmi_sim did not start for ${dir}`);
  return child.pid;
}

const IPMI_ACTIONS: Record<PowerAction, string> = {
  status: 'status', on: 'on', off: 'off', cycle: 'cycle', reset: 'reset', soft: 'soft',
};

/** One ipmitool call, as mamori makes it: lanplus, cipher suite 3, password from the environment. */
export async function ipmitool(
  port: number,
  user: string,
  passwordFile: string,
  action: PowerAction,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const password = (await readFile(passwordFile, 'utf8')).trim();
  return run(
    'ipmitool',
    ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', user, '-E', '-C', '3', 'chassis', 'power', IPMI_ACTIONS[action]],
    { env: { ...process.env, IPMI_PASSWORD: password }, timeoutMs: 20_000 },
  );
}

export function parsePowerStatus(stdout: string): PowerState | undefined {
  const m = /Chassis Power is (on|off)/.exec(stdout);
  return m?.[1] === 'on' ? 'on' : m?.[1] === 'off' ? 'off' : undefined;
}
