/**
 * The lab's second management network (lab 107): its own bridge and range reaching every host on
 * a second NIC, and a vantage point's namespace on it. The two paths to a host's one address are
 * independent (cutting one leaves the other), a powered-off host is dark on both, and the teardown
 * leaves nothing of either network.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from './index.ts';
import { labLeftovers } from './leftovers.ts';
import { run } from './run.ts';

const ID = 107;
let lab: Lab | undefined;

beforeAll(async () => {
  lab = await startLab({ id: ID, hosts: [{ name: 'web1' }, { name: 'web2' }], secondNetwork: true });
}, 90_000);

afterAll(async () => {
  await lab?.stop();
});

const it2 = (name: string, fn: (l: Lab) => Promise<void>): void => {
  it(name, async () => {
    if (lab === undefined) throw new Error('the lab did not start');
    await fn(lab);
  }, 60_000);
};

describe('the second management network', () => {
  it2('names its own bridge, range and vantage namespace; the vantage point reaches the daemon side and every host', async (l) => {
    expect(l.second).toEqual({
      subnet: `10.232.${ID}.0/24`,
      gateway: `10.232.${ID}.1`,
      bridge: `mlab${ID}b`,
      vantageNetns: `ml${ID}-_vantage`,
      vantageAddress: `10.232.${ID}.2`,
      hostAddresses: { web1: `10.232.${ID}.11`, web2: `10.232.${ID}.12` },
    });
    const ns = l.second?.vantageNetns ?? '';
    // The machine's end of the second network (where the daemon takes reports) answers from the vantage namespace.
    expect((await run('ip', ['netns', 'exec', ns, 'ping', '-n', '-q', '-c', '1', '-W', '2', `10.232.${ID}.1`])).code).toBe(0);
    // A host's primary address is reached over the second bridge, from the vantage point's own address.
    const route = await run('ip', ['netns', 'exec', ns, 'ip', 'route', 'get', l.host('web1').address]);
    expect(route.stdout).toMatch(new RegExp(`dev eth0 src 10\\.232\\.${ID}\\.2`));
    expect(route.stdout).not.toContain('via');
    for (const h of l.hosts) {
      expect(await l.answers(h.name, 'primary')).toBe(true);
      expect(await l.answers(h.name, 'second')).toBe(true);
    }
  });

  it2('cutting one path leaves the other; mending restores it; TCP follows ping', async (l) => {
    const web1 = l.host('web1');
    const tcpFromVantage = async (): Promise<boolean> =>
      (await run('ip', ['netns', 'exec', l.second?.vantageNetns ?? '', 'nc', '-z', '-w', '2', web1.address, '22'], { timeoutMs: 5_000 })).code === 0;
    const tcpFromMachine = async (): Promise<boolean> => (await run('nc', ['-z', '-w', '2', web1.address, '22'], { timeoutMs: 5_000 })).code === 0;

    await l.cut('web1', 'primary');
    await l.cut('web1', 'primary'); // idempotent
    expect([await l.answers('web1', 'primary'), await l.answers('web1', 'second')]).toEqual([false, true]);
    expect([await tcpFromMachine(), await tcpFromVantage()]).toEqual([false, true]);
    // The other host is untouched.
    expect(await l.answers('web2', 'primary')).toBe(true);
    await l.mend('web1', 'primary');
    expect([await l.answers('web1', 'primary'), await l.answers('web1', 'second')]).toEqual([true, true]);

    await l.cut('web1', 'second');
    expect([await l.answers('web1', 'primary'), await l.answers('web1', 'second')]).toEqual([true, false]);
    expect([await tcpFromMachine(), await tcpFromVantage()]).toEqual([true, false]);
    await l.cut('web1', 'both');
    expect([await l.answers('web1', 'primary'), await l.answers('web1', 'second')]).toEqual([false, false]);
    // The host itself runs on: its console answers.
    expect((await l.console('web1', 'echo alive')).stdout.trim()).toBe('alive');
    await l.mend('web1', 'both');
    await l.mend('web1', 'both'); // idempotent
    expect([await l.answers('web1', 'primary'), await l.answers('web1', 'second')]).toEqual([true, true]);
  });

  it2('a powered-off host is dark on both networks; powered on, it answers on both', async (l) => {
    await l.power('web2', 'off');
    expect([await l.answers('web2', 'primary'), await l.answers('web2', 'second')]).toEqual([false, false]);
    await l.power('web2', 'on');
    await l.waitReady('web2');
    await expect.poll(() => l.answers('web2', 'second'), { timeout: 15_000, interval: 200 }).toBe(true);
  });

  it2('stop leaves nothing of either network', async (l) => {
    await l.stop();
    lab = undefined;
    expect(await labLeftovers(ID)).toEqual([]);
    const links = await run('ip', ['-o', 'link', 'show']);
    expect(links.stdout).not.toContain(`mlab${ID}b`);
  });
});
