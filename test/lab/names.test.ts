import { describe, expect, test } from 'vitest';
import { bmcPort, bridgeName, checkHostName, checkLabId, hostAddress, hostMac, MAX_HOSTS, netnsName, netnsPrefix, vethName, vethPrefix } from './names.ts';
import { parseHosts } from './cli.ts';

describe('lab names', () => {
  test.each([
    [1, 0, '10.231.1.11', 'ml1-web1', 'mlv1-0', 9016, '02:6d:6c:01:00:01'],
    [2, 3, '10.231.2.14', 'ml2-web1', 'mlv2-3', 9035, '02:6d:6c:02:03:01'],
    [255, 15, '10.231.255.26', 'ml255-web1', 'mlv255-15', 13095, '02:6d:6c:ff:0f:01'],
  ])('lab %i host %i', (id, index, address, ns, veth, port, mac) => {
    expect(hostAddress(id, index)).toBe(address);
    expect(netnsName(id, 'web1')).toBe(ns);
    expect(vethName(id, index)).toBe(veth);
    expect(bmcPort(id, index)).toBe(port);
    expect(hostMac(id, index)).toBe(mac);
    expect(veth.length).toBeLessThanOrEqual(15); // IFNAMSIZ
    expect(bridgeName(id).length).toBeLessThanOrEqual(15);
  });

  test('BMC ports and MACs never collide between labs and hosts', () => {
    const ports = new Set<number>();
    const macs = new Set<string>();
    for (let id = 0; id <= 255; id++) {
      for (let i = 0; i < MAX_HOSTS; i++) {
        ports.add(bmcPort(id, i));
        macs.add(hostMac(id, i));
      }
    }
    expect(ports.size).toBe(256 * MAX_HOSTS);
    expect(macs.size).toBe(256 * MAX_HOSTS);
  });

  test('one lab\'s prefixes never match another\'s names', () => {
    for (const [a, b] of [[1, 12], [1, 10], [2, 25]] as const) {
      expect(netnsName(b, 'x').startsWith(netnsPrefix(a))).toBe(false);
      expect(vethName(b, 0).startsWith(vethPrefix(a))).toBe(false);
      expect(netnsName(a, 'x').startsWith(netnsPrefix(a))).toBe(true);
      expect(vethName(a, 3).startsWith(vethPrefix(a))).toBe(true);
    }
  });

  test.each(['web1', 'a', 'db-2', 'x123456789012345678'])('host name %s is accepted', (n) => {
    expect(() => checkHostName(n)).not.toThrow();
  });
  test.each(['', 'Web1', 'web_1', '-a', 'a.b', 'x'.repeat(21)])('host name "%s" is refused', (n) => {
    expect(() => checkHostName(n)).toThrow(/host name/);
  });
  test.each([-1, 256, 1.5, Number.NaN])('lab id %s is refused', (id) => {
    expect(() => checkLabId(id)).toThrow(/id must be an integer 0..255/);
  });
});

describe('npm run lab -- up --hosts', () => {
  test('name[:variant],...', () => {
    expect(parseHosts('web1,web2:passphrase,old:legacy-ssh,fw:firewall')).toEqual([
      { name: 'web1' },
      { name: 'web2', variant: 'passphrase' },
      { name: 'old', variant: 'legacy-ssh' },
      { name: 'fw', variant: 'firewall' },
    ]);
  });
  test('an unknown variant names the host and the variants', () => {
    expect(() => parseHosts('a:wizard')).toThrow('host "a": variant must be one of standard, passphrase, legacy-ssh, firewall');
  });
});
