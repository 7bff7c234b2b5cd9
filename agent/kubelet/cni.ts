// The node's CNI config, written where containerd reads it: bridge + host-local on the node's pod CIDR,
// portmap for hostPorts, loopback. containerd reports NetworkReady once a valid config is there.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface CniOptions {
  confDir: string;
  podCIDR: string;
  bridge?: string;
  networkName?: string;
  ipMasq?: boolean;
  mtu?: number;
  /** host-local lease directory; default /var/lib/cni/networks. */
  ipamDataDir?: string;
}

export const CNI_CONF_FILE = '10-kts.conflist';

export function parseCidr(cidr: string): { base: number[]; prefix: number } {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) throw new Error(`pod CIDR "${cidr}" is not an IPv4 CIDR (a.b.c.d/n)`);
  const base = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (base.some((o) => o > 255) || prefix < 8 || prefix > 30) throw new Error(`pod CIDR "${cidr}" is out of range (prefix 8..30)`);
  return { base, prefix };
}

export function cniConflist(o: CniOptions): string {
  const { base, prefix } = parseCidr(o.podCIDR);
  const ipNum = ((base[0]! << 24) | (base[1]! << 16) | (base[2]! << 8) | base[3]!) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const net = (ipNum & mask) >>> 0;
  const gw = net + 1;
  const ip = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  return `${JSON.stringify({
    cniVersion: '0.4.0',
    name: o.networkName ?? 'kts',
    plugins: [
      {
        type: 'bridge', bridge: o.bridge ?? 'cni0', isGateway: true, ipMasq: o.ipMasq ?? true, hairpinMode: true,
        ...(o.mtu ? { mtu: o.mtu } : {}),
        ipam: { type: 'host-local', ...(o.ipamDataDir ? { dataDir: o.ipamDataDir } : {}),
          ranges: [[{ subnet: `${ip(net)}/${prefix}`, gateway: ip(gw) }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'loopback' },
    ],
  }, null, 2)}\n`;
}

/** Writes the conflist atomically; returns true when the file changed. */
export async function writeCniConfig(o: CniOptions): Promise<boolean> {
  const text = cniConflist(o);
  const file = path.join(o.confDir, CNI_CONF_FILE);
  const old = await readFile(file, 'utf8').catch(() => '');
  if (old === text) return false;
  await mkdir(o.confDir, { recursive: true });
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
  return true;
}
