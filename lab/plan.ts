// The lab's topology, derived once from the flags and saved in <dir>/lab.json, so that `down` and `status`
// need only --dir. Node i (1-based) is netns <prefix>-n<i> at <node base>+10+i on the bridge, with pod CIDR
// <pod a.b>.<i>.0/24; the host is <node base>+1 on the bridge.
import path from 'node:path';

export type StoreKind = 'kts' | 'etcd';

export interface LabOptions {
  dir: string;
  nodes: number;
  store: StoreKind;
  /** netns and node names: <prefix>-n<i>; also the cgroup root /<prefix>-n<i>. */
  prefix: string;
  bridge: string;
  /** The underlay the bridge and the nodes sit on; a /24 or larger. */
  nodeCidr: string;
  /** The cluster's pod range, a /16: node i gets its third octet i. */
  podCidr: string;
  serviceCidr: string;
  /** 0 picks a free port at `up` time. */
  apiserverPort: number;
  etcdPort: number;
  etcdPeerPort: number;
}

export const DEFAULT_OPTIONS: LabOptions = {
  dir: '/var/lib/kts-lab', nodes: 2, store: 'kts', prefix: 'kts-lab', bridge: 'ktslab0',
  nodeCidr: '10.250.0.0/24', podCidr: '10.244.0.0/16', serviceCidr: '10.96.0.0/12',
  apiserverPort: 6443, etcdPort: 2379, etcdPeerPort: 2380,
};

export interface NodePlan {
  index: number;
  name: string;
  netns: string;
  /** The host end of the node's veth, enslaved to the bridge; the node end is eth0. */
  hostVeth: string;
  ip: string;
  podCidr: string;
  dir: string;
  cgroupRoot: string;
  /** Kubelet server port on the node's address (the kubelet runs inside the node's netns, in `kts agent`). */
  kubeletPort: number;
}

export interface LabPlan {
  options: LabOptions;
  bridgeIP: string;
  /** Prefix length of nodeCidr, for the addresses on the bridge and the veths. */
  nodePrefix: number;
  firstServiceIP: string;
  apiserverPort: number;
  etcdPort: number;
  etcdPeerPort: number;
  nodes: NodePlan[];
}

export function parseIPv4Cidr(cidr: string, flag: string): { octets: number[]; prefix: number } {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : -1;
  if (!m || octets.some((o) => o > 255) || prefix < 1 || prefix > 32) throw new Error(`${flag}: "${cidr}" is not an IPv4 CIDR (a.b.c.d/n)`);
  return { octets, prefix };
}

const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Checks the options and names what is wrong. */
export function validateOptions(o: LabOptions): void {
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 50) throw new Error(`--nodes: ${o.nodes} is not a whole number from 1 to 50`);
  if (o.store !== 'kts' && o.store !== 'etcd') throw new Error(`--store: "${o.store}" is not kts or etcd`);
  if (!path.isAbsolute(o.dir)) throw new Error(`--dir: "${o.dir}" must be an absolute path`);
  if (!DNS_LABEL.test(o.prefix) || o.prefix.length > 40) throw new Error(`--prefix: "${o.prefix}" must be a lowercase DNS label of at most 40 characters`);
  if (!IFNAME.test(o.bridge) || o.bridge.length > 11) throw new Error(`--bridge: "${o.bridge}" must be an interface name of at most 11 characters (veths add -n<i>)`);
  const node = parseIPv4Cidr(o.nodeCidr, '--node-cidr');
  if (node.prefix > 24) throw new Error(`--node-cidr: "${o.nodeCidr}" must be a /24 or larger`);
  if (node.octets[3] !== 0) throw new Error(`--node-cidr: "${o.nodeCidr}" must start at .0`);
  const pod = parseIPv4Cidr(o.podCidr, '--pod-cidr');
  if (pod.prefix !== 16 || pod.octets[2] !== 0 || pod.octets[3] !== 0) throw new Error(`--pod-cidr: "${o.podCidr}" must be a /16 (a.b.0.0/16)`);
  parseIPv4Cidr(o.serviceCidr, '--service-cluster-ip-range');
  for (const [flag, v] of [['--apiserver-port', o.apiserverPort], ['--etcd-port', o.etcdPort], ['--etcd-peer-port', o.etcdPeerPort]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 65535) throw new Error(`${flag}: "${v}" is not a port (0 picks a free one)`);
  }
}

/** The first usable address of the service range: the `kubernetes` Service's ClusterIP. */
export function firstServiceIP(serviceCidr: string): string {
  const { octets, prefix } = parseIPv4Cidr(serviceCidr, '--service-cluster-ip-range');
  const n = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  const first = ((n & mask) >>> 0) + 1;
  return [first >>> 24, (first >>> 16) & 255, (first >>> 8) & 255, first & 255].join('.');
}

/** Ports are resolved by the caller (0 -> free port) before planning. */
export function planLab(o: LabOptions, ports: { apiserver: number; etcd: number; etcdPeer: number; kubelets: number[] }): LabPlan {
  validateOptions(o);
  const node = parseIPv4Cidr(o.nodeCidr, '--node-cidr');
  const pod = parseIPv4Cidr(o.podCidr, '--pod-cidr');
  const base = node.octets.slice(0, 3).join('.');
  if (o.nodes + 10 > 254) throw new Error(`--nodes: ${o.nodes} nodes do not fit in ${o.nodeCidr}`);
  const nodes: NodePlan[] = [];
  for (let i = 1; i <= o.nodes; i++) {
    const name = `${o.prefix}-n${i}`;
    nodes.push({
      index: i, name, netns: name, hostVeth: `${o.bridge}-n${i}`, ip: `${base}.${10 + i}`,
      podCidr: `${pod.octets[0]}.${pod.octets[1]}.${i}.0/24`, dir: path.join(o.dir, 'nodes', `n${i}`),
      cgroupRoot: `/${name}`, kubeletPort: ports.kubelets[i - 1]!,
    });
  }
  return {
    options: o, bridgeIP: `${base}.1`, nodePrefix: node.prefix, firstServiceIP: firstServiceIP(o.serviceCidr),
    apiserverPort: ports.apiserver, etcdPort: ports.etcd, etcdPeerPort: ports.etcdPeer, nodes,
  };
}
