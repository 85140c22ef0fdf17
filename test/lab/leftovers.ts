/**
 * Everything of lab <id> that could outlive it on the machine, for the tests that say `down`
 * (or a cleaning) leaves nothing: namespaces, links, processes (naming its folder, or whose root
 * or working folder is in it: a container's), mounts, systemd containers' cgroups, /etc/netns
 * entries, the folder and the record.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { defaultLabDir, labRecordPath } from './names.ts';
import { CGROUP_PREFIX } from './nspawn.ts';
import { run } from './run.ts';

export async function labLeftovers(id: number, dir = defaultLabDir(id)): Promise<string[]> {
  const found: string[] = [];
  const ns = await run('ip', ['netns', 'list']);
  for (const l of ns.stdout.split('\n')) if (l.startsWith(`ml${id}-`)) found.push(`netns ${l}`);
  const links = await run('ip', ['-o', 'link', 'show']);
  for (const m of links.stdout.matchAll(/^\d+:\s+([^:@\s]+)/gm)) {
    if (m[1] === `mlab${id}` || m[1] === `mlab${id}b` || m[1]?.startsWith(`mlv${id}-`)) found.push(`link ${m[1]}`);
  }
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => '');
    const root = await readlink(`/proc/${e}/root`).catch(() => '');
    const cwd = await readlink(`/proc/${e}/cwd`).catch(() => '');
    if (cmd.includes(`${dir}/`) || root.startsWith(`${dir}/`) || cwd.startsWith(`${dir}/`)) {
      found.push(`process ${e} ${cmd.replace(/\0/g, ' ')} (root ${root}, cwd ${cwd})`);
    }
  }
  const mounts = await readFile('/proc/mounts', 'utf8');
  for (const l of mounts.split('\n')) if (l.includes(`${dir}/`) || l.includes(`/run/netns/ml${id}-`)) found.push(`mount ${l}`);
  const cg = await run('find', ['/sys/fs/cgroup', '-maxdepth', '3', '-type', 'd', '-name', `${CGROUP_PREFIX}ml${id}-*`]);
  for (const l of cg.stdout.split('\n')) if (l.trim() !== '') found.push(`cgroup ${l}`);
  if (existsSync('/etc/netns')) {
    for (const e of await readdir('/etc/netns')) if (e.startsWith(`ml${id}-`)) found.push(`/etc/netns/${e}`);
  }
  if (existsSync(dir)) found.push(`folder ${dir}`);
  if (existsSync(labRecordPath(id))) found.push(`record ${labRecordPath(id)}`);
  return found;
}
