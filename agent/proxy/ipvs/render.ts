// Pure renderer for the ipvs mode: ProxyState -> virtual/real servers (ipvsadm-restore), the ipsets that
// name service addresses, the addresses of the kube-ipvs0 dummy interface, and a small iptables payload
// whose rules match those sets, so it stays the same however many services there are.
import type { ProxyState, ServicePortInfo, EndpointInfo } from '../types.ts';
import { categorize } from '../endpointschangetracker.ts';
import { markHex } from '../iptables/render.ts';

export const dummyInterface = 'kube-ipvs0';

/** ipvsadm's schedulers (ipvsadm(8)). */
export const schedulers = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh'] as const;
export type Scheduler = (typeof schedulers)[number];

export function isScheduler(s: string): s is Scheduler {
  return (schedulers as readonly string[]).includes(s);
}

export interface RealServer { address: string; port: number; weight: number }

export interface VirtualServer {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  address: string;
  port: number;
  scheduler: string;
  /** Persistence timeout in seconds (ClientIP affinity), 0 for none. */
  persistence: number;
  realServers: RealServer[];
  /** Service port key, for messages (not part of the kernel state). */
  service?: string;
}

/** Set name -> ipset type, as upstream's ipvs proxier names them. */
export const ipsets = {
  'KUBE-CLUSTER-IP': 'hash:ip,port',
  'KUBE-LOOP-BACK': 'hash:ip,port,ip',
  'KUBE-EXTERNAL-IP': 'hash:ip,port',
  'KUBE-EXTERNAL-IP-LOCAL': 'hash:ip,port',
  'KUBE-LOAD-BALANCER': 'hash:ip,port',
  'KUBE-LOAD-BALANCER-LOCAL': 'hash:ip,port',
  'KUBE-NODE-PORT-TCP': 'bitmap:port',
  'KUBE-NODE-PORT-LOCAL-TCP': 'bitmap:port',
  'KUBE-NODE-PORT-UDP': 'bitmap:port',
  'KUBE-NODE-PORT-LOCAL-UDP': 'bitmap:port',
  'KUBE-NODE-PORT-SCTP-HASH': 'hash:ip,port',
  'KUBE-NODE-PORT-LOCAL-SCTP-HASH': 'hash:ip,port',
} as const;
export type IpsetName = keyof typeof ipsets;

export interface IpvsRenderOptions {
  scheduler?: string;
  /** Node addresses that NodePorts listen on (ipvs needs one virtual server per address). */
  nodeIPs: string[];
}

export interface IpvsRenderResult {
  virtualServers: VirtualServer[];
  /** Desired ipvs table from scratch (`ipvsadm-restore` after `-C`); apply sends a diff instead. */
  ipvsadmRestore: string;
  /** `ipset restore` input that rebuilds every set atomically (fill a temporary set, swap). */
  ipsetRestore: string;
  ipsetEntries: Map<IpsetName, Set<string>>;
  iptablesPayload: string;
  /** /32 addresses kube-ipvs0 must hold. */
  addresses: string[];
}

const protoFlag = { TCP: '-t', UDP: '-u', SCTP: '--sctp-service' } as const;
const p = (s: ServicePortInfo) => s.protocol.toLowerCase();

export function virtualServerId(vs: Pick<VirtualServer, 'protocol' | 'address' | 'port'>): string {
  return `${protoFlag[vs.protocol]} ${vs.address}:${vs.port}`;
}

export function virtualServerLines(vs: VirtualServer): string[] {
  const id = virtualServerId(vs);
  const out = [`-A ${id} -s ${vs.scheduler}${vs.persistence > 0 ? ` -p ${vs.persistence}` : ''}`];
  for (const rs of vs.realServers) out.push(`-a ${id} -r ${rs.address}:${rs.port} -m -w ${rs.weight}`);
  return out;
}

function realServers(eps: EndpointInfo[]): RealServer[] {
  return eps.map((e) => ({ address: e.ip, port: e.port, weight: 1 }));
}

export function render(state: ProxyState, opts: IpvsRenderOptions): IpvsRenderResult {
  const scheduler = opts.scheduler || 'rr';
  if (!isScheduler(scheduler)) throw new Error(`ipvs scheduler "${scheduler}" is not one of ${schedulers.join(', ')}`);
  const vss: VirtualServer[] = [];
  const addresses = new Set<string>();
  const sets = new Map<IpsetName, Set<string>>(Object.keys(ipsets).map((n) => [n as IpsetName, new Set<string>()]));
  const add = (set: IpsetName, entry: string) => sets.get(set)!.add(entry);

  for (const svc of state.services.values()) {
    const { cluster, local } = categorize(state.endpoints.get(svc.key) ?? []);
    const internal = svc.internalPolicyLocal ? local : cluster;
    const external = svc.externalPolicyLocal ? local : cluster;
    const vs = (address: string, port: number, eps: EndpointInfo[]): VirtualServer => ({
      protocol: svc.protocol, address, port, scheduler, persistence: svc.affinitySeconds, realServers: realServers(eps), service: svc.key,
    });
    vss.push(vs(svc.clusterIP, svc.port, internal));
    addresses.add(svc.clusterIP);
    add('KUBE-CLUSTER-IP', `${svc.clusterIP},${p(svc)}:${svc.port}`);
    for (const ep of new Map([...cluster, ...local].map((e) => [`${e.ip}:${e.port}`, e])).values()) {
      add('KUBE-LOOP-BACK', `${ep.ip},${p(svc)}:${ep.port},${ep.ip}`);
    }
    for (const ip of svc.externalIPs) {
      vss.push(vs(ip, svc.port, external));
      addresses.add(ip);
      add(svc.externalPolicyLocal ? 'KUBE-EXTERNAL-IP-LOCAL' : 'KUBE-EXTERNAL-IP', `${ip},${p(svc)}:${svc.port}`);
    }
    for (const ip of svc.loadBalancerIPs) {
      vss.push(vs(ip, svc.port, external));
      addresses.add(ip);
      add(svc.externalPolicyLocal ? 'KUBE-LOAD-BALANCER-LOCAL' : 'KUBE-LOAD-BALANCER', `${ip},${p(svc)}:${svc.port}`);
    }
    if (svc.nodePort !== 0) {
      for (const ip of opts.nodeIPs) vss.push(vs(ip, svc.nodePort, external));
      if (svc.protocol === 'SCTP') {
        for (const ip of opts.nodeIPs) {
          add('KUBE-NODE-PORT-SCTP-HASH', `${ip},sctp:${svc.nodePort}`);
          if (svc.externalPolicyLocal) add('KUBE-NODE-PORT-LOCAL-SCTP-HASH', `${ip},sctp:${svc.nodePort}`);
        }
      } else {
        add(`KUBE-NODE-PORT-${svc.protocol}`, String(svc.nodePort));
        if (svc.externalPolicyLocal) add(`KUBE-NODE-PORT-LOCAL-${svc.protocol}`, String(svc.nodePort));
      }
    }
  }
  vss.sort((a, b) => (virtualServerId(a) < virtualServerId(b) ? -1 : 1));
  return {
    virtualServers: vss,
    ipvsadmRestore: vss.flatMap(virtualServerLines).join('\n') + (vss.length ? '\n' : ''),
    ipsetRestore: ipsetRestore(sets),
    ipsetEntries: sets,
    iptablesPayload: iptablesPayload(state),
    addresses: [...addresses].sort(),
  };
}

function createLine(name: string, type: string): string {
  return type === 'bitmap:port' ? `create ${name} ${type} range 0-65535 -exist` : `create ${name} ${type} family inet hashsize 1024 maxelem 65536 -exist`;
}

/** Fill a temporary set per name and swap it in: each set changes atomically. */
export function ipsetRestore(sets: Map<IpsetName, Set<string>>): string {
  const out: string[] = [];
  for (const [name, entries] of sets) {
    const type = ipsets[name];
    const tmp = `${name.slice(0, 26)}-T`;
    out.push(createLine(name, type), createLine(tmp, type), `flush ${tmp}`);
    for (const e of [...entries].sort()) out.push(`add ${tmp} ${e}`);
    out.push(`swap ${tmp} ${name}`, `destroy ${tmp}`);
  }
  return out.join('\n') + '\n';
}

/** The iptables rules of ipvs mode: a function of node settings only, never of the services. */
export function iptablesPayload(state: ProxyState): string {
  const mark = markHex(state.node.masqueradeBit);
  const cidr = state.node.clusterCIDR;
  const masqClusterIP = state.node.masqueradeAll
    ? '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ'
    : cidr ? `-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s ${cidr} -j KUBE-MARK-MASQ` : '';
  return [
    '*filter',
    ':KUBE-FORWARD - [0:0]',
    '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
    `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    'COMMIT',
    '*nat',
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-POSTROUTING - [0:0]',
    ':KUBE-MARK-MASQ - [0:0]',
    ':KUBE-NODE-PORT - [0:0]',
    '-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE',
    `-A KUBE-POSTROUTING -m mark ! --mark ${mark}/${mark} -j RETURN`,
    `-A KUBE-POSTROUTING -j MARK --xor-mark ${mark}`,
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    `-A KUBE-MARK-MASQ -j MARK --or-mark ${mark}`,
    ...(masqClusterIP ? [masqClusterIP] : []),
    '-A KUBE-SERVICES -m comment --comment "Kubernetes service external ip + port with Local policy" -m set --match-set KUBE-EXTERNAL-IP-LOCAL dst,dst -j RETURN',
    '-A KUBE-SERVICES -m comment --comment "Kubernetes service external ip + port for masquerade purpose" -m set --match-set KUBE-EXTERNAL-IP dst,dst -j KUBE-MARK-MASQ',
    '-A KUBE-SERVICES -m comment --comment "Kubernetes service load balancer ip + port with Local policy" -m set --match-set KUBE-LOAD-BALANCER-LOCAL dst,dst -j RETURN',
    '-A KUBE-SERVICES -m comment --comment "Kubernetes service load balancer ip + port for masquerade purpose" -m set --match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-MARK-MASQ',
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT',
    '-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT',
    '-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port with externalTrafficPolicy=local" -m set --match-set KUBE-NODE-PORT-LOCAL-TCP dst -j RETURN',
    '-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ',
    '-A KUBE-NODE-PORT -p udp -m comment --comment "Kubernetes nodeport UDP port with externalTrafficPolicy=local" -m set --match-set KUBE-NODE-PORT-LOCAL-UDP dst -j RETURN',
    '-A KUBE-NODE-PORT -p udp -m comment --comment "Kubernetes nodeport UDP port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-UDP dst -j KUBE-MARK-MASQ',
    '-A KUBE-NODE-PORT -p sctp -m comment --comment "Kubernetes nodeport SCTP port with externalTrafficPolicy=local" -m set --match-set KUBE-NODE-PORT-LOCAL-SCTP-HASH dst,dst -j RETURN',
    '-A KUBE-NODE-PORT -p sctp -m comment --comment "Kubernetes nodeport SCTP port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-SCTP-HASH dst,dst -j KUBE-MARK-MASQ',
    'COMMIT',
    '',
  ].join('\n');
}
