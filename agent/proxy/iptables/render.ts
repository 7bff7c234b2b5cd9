// Pure renderer: ProxyState -> one iptables-restore payload with upstream kube-proxy's chain layout.
// A full render declares (and so flushes) every chain it owns; a partial render (opts.changed set) writes only
// the chains of the changed service ports, plus the shared chains whose content differs from the last sync.
import type { EndpointInfo, NodeInfo, ProxyState, ServicePortInfo } from '../types.ts';
import { categorize } from '../endpointschangetracker.ts';
import { endpointChain, externalChain, firewallChain, localServiceChain, serviceChain } from '../hash.ts';

export const chains = {
  services: 'KUBE-SERVICES',
  externalServices: 'KUBE-EXTERNAL-SERVICES',
  firewall: 'KUBE-PROXY-FIREWALL',
  nodePorts: 'KUBE-NODEPORTS',
  postrouting: 'KUBE-POSTROUTING',
  markMasq: 'KUBE-MARK-MASQ',
  forward: 'KUBE-FORWARD',
} as const;

/** Jump rules from the built-in chains, ensured with -C / -I outside the payload (as upstream). */
export const jumpRules: JumpRule[] = [
  { table: 'nat', chain: 'PREROUTING', args: ['-m', 'comment', '--comment', 'kubernetes service portals', '-j', chains.services] },
  { table: 'nat', chain: 'OUTPUT', args: ['-m', 'comment', '--comment', 'kubernetes service portals', '-j', chains.services] },
  { table: 'nat', chain: 'POSTROUTING', args: ['-m', 'comment', '--comment', 'kubernetes postrouting rules', '-j', chains.postrouting] },
  { table: 'filter', chain: 'INPUT', args: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes externally-visible service portals', '-j', chains.externalServices] },
  { table: 'filter', chain: 'FORWARD', args: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes externally-visible service portals', '-j', chains.externalServices] },
  { table: 'filter', chain: 'FORWARD', args: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', chains.services] },
  { table: 'filter', chain: 'OUTPUT', args: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', chains.services] },
  { table: 'filter', chain: 'FORWARD', args: ['-m', 'comment', '--comment', 'kubernetes forwarding rules', '-j', chains.forward] },
  { table: 'filter', chain: 'INPUT', args: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes load balancer firewall', '-j', chains.firewall] },
  { table: 'filter', chain: 'FORWARD', args: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes load balancer firewall', '-j', chains.firewall] },
  { table: 'filter', chain: 'OUTPUT', args: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes load balancer firewall', '-j', chains.firewall] },
];

export interface RenderOptions {
  /** Service port keys whose chains must be rewritten. Absent: full sync, every chain is written. */
  changed?: Set<string>;
  /** Per-service chains (nat) present after the previous successful sync: the ones no longer used get -X. */
  previousChains?: Set<string>;
  /** Content of the shared chains after the previous successful sync ("table/chain" -> rules). */
  previousShared?: Map<string, string>;
  /** Jump rules missing from the built-in chains, inserted by this payload (full renders only). */
  jumps?: JumpRule[];
  /**
   * The result of the last applied render. With `changed`, the render then costs O(changed service ports):
   * the shared chains are rebuilt only when a changed port's lines in them differ, and stale chains come from
   * the changed ports' old chains. (previousChains/previousShared are taken from it.)
   */
  previous?: RenderResult;
}

export interface JumpRule { table: 'nat' | 'filter'; chain: string; args: string[] }

/** A jump rule as iptables-save prints it (arguments with spaces quoted). */
export function jumpRuleLine(j: JumpRule, op: '-A' | '-I' = '-A'): string {
  return [op, j.chain, ...j.args.map((a) => (/\s/.test(a) ? q(a) : a))].join(' ');
}

/** The jump rules `saved` (iptables-save output of nat and filter) lacks. */
export function missingJumps(saved: string): JumpRule[] {
  const tables = new Map<string, Set<string>>();
  let table = '';
  for (const line of saved.split('\n')) {
    if (line.startsWith('*')) { table = line.slice(1).trim(); tables.set(table, new Set()); continue; }
    if (line.startsWith('-A ')) tables.get(table)?.add(line.trim());
  }
  return jumpRules.filter((j) => !tables.get(j.table)?.has(jumpRuleLine(j)));
}

export interface RenderResult {
  payload: string;
  /** Per-service nat chains (KUBE-SVC/SVL/EXT/SEP) that exist once this payload is applied. */
  serviceChains: Set<string>;
  /** Content of each shared chain as rendered. */
  shared: Map<string, string>;
  /** What each service port rendered to, so the next partial render can work from the changed ones alone. */
  perService: Map<string, ServiceRender>;
  stats: { servicePorts: number; chainsWritten: number; chainsDeleted: number; natRules: number; filterRules: number };
}

function q(s: string): string {
  return `"${s}"`;
}

function proto(p: string): string {
  return p.toLowerCase();
}

export function markHex(bit: number): string {
  return `0x${(1 << bit).toString(16)}`;
}

/** Rules that spread traffic from `chain` over `endpoints` (with ClientIP affinity when asked). */
function endpointJumps(out: string[], svc: ServicePortInfo, chain: string, endpoints: EndpointInfo[]): void {
  const p = proto(svc.protocol);
  if (svc.affinitySeconds > 0) {
    for (const ep of endpoints) {
      const sep = endpointChain(svc.key, p, `${ep.ip}:${ep.port}`);
      out.push(`-A ${chain} -m comment --comment ${q(`${svc.key} -> ${ep.ip}:${ep.port}`)} -m recent --name ${sep} --rcheck --seconds ${svc.affinitySeconds} --reap -j ${sep}`);
    }
  }
  const n = endpoints.length;
  endpoints.forEach((ep, i) => {
    const sep = endpointChain(svc.key, p, `${ep.ip}:${ep.port}`);
    const stat = i < n - 1 ? ` -m statistic --mode random --probability ${(1 / (n - i)).toFixed(10)}` : '';
    out.push(`-A ${chain} -m comment --comment ${q(`${svc.key} -> ${ep.ip}:${ep.port}`)}${stat} -j ${sep}`);
  });
}

/** What one service port contributes: its own chains and rules, and its lines in the shared chains. */
export interface ServiceRender {
  chains: string[];
  chainDecls: string;
  rules: string;
  ruleCount: number;
  natServices: string[];
  natNodePorts: string[];
  filterServices: string[];
  filterExternal: string[];
  filterFirewall: string[];
}

/**
 * Renders are memoized per service port object: the trackers replace a ServicePortInfo or an endpoint list
 * when it changes, so the same objects mean the same rules, and a full resync only re-joins strings.
 */
const renderCache = new WeakMap<ServicePortInfo, { all: EndpointInfo[] | undefined; node: NodeInfo; r: ServiceRender }>();

function renderServicePortCached(svc: ServicePortInfo, all: EndpointInfo[] | undefined, node: NodeInfo): ServiceRender {
  const hit = renderCache.get(svc);
  if (hit && hit.all === all && hit.node === node) return hit.r;
  const r = renderServicePort(svc, all ?? [], node);
  renderCache.set(svc, { all, node, r });
  return r;
}

function renderServicePort(svc: ServicePortInfo, all: EndpointInfo[], node: NodeInfo): ServiceRender {
  const natServices: string[] = [];
  const natNodePorts: string[] = [];
  const filterServices: string[] = [];
  const filterExternal: string[] = [];
  const filterFirewall: string[] = [];
  const p = proto(svc.protocol);
  const { cluster, local } = categorize(all);
  const hasExternal = svc.nodePort !== 0 || svc.externalIPs.length > 0 || svc.loadBalancerIPs.length > 0;
  const svcChain = serviceChain(svc.key, p);
  const svlChain = localServiceChain(svc.key, p);
  const extChain = externalChain(svc.key, p);
  const usesCluster = cluster.length > 0 && (!svc.internalPolicyLocal || hasExternal);
  const usesLocal = local.length > 0 && (svc.internalPolicyLocal || svc.externalPolicyLocal);
  const internalChain = svc.internalPolicyLocal ? svlChain : svcChain;
  const externalPolicyChain = svc.externalPolicyLocal ? svlChain : svcChain;
  const hasInternalEndpoints = (svc.internalPolicyLocal ? local : cluster).length > 0;
  const hasExternalEndpoints = (svc.externalPolicyLocal ? local : cluster).length > 0;
  const hasEndpoints = cluster.length > 0 || local.length > 0;
  const usesExternalChain = hasEndpoints && hasExternal;
  const own: string[] = [];
  const ownChains: string[] = [];
  const chain = (name: string) => ownChains.push(name);

  // Cluster IP.
  const cipArgs = `-m comment --comment ${q(`${svc.key} cluster IP`)} -p ${p} -m ${p} -d ${svc.clusterIP}/32 --dport ${svc.port}`;
  if (hasInternalEndpoints) {
    natServices.push(`-A ${chains.services} ${cipArgs} -j ${internalChain}`);
    if (node.masqueradeAll) own.push(`-A ${internalChain} ${cipArgs} -j ${chains.markMasq}`);
    else if (node.clusterCIDR) own.push(`-A ${internalChain} ! -s ${node.clusterCIDR} ${cipArgs} -j ${chains.markMasq}`);
  } else {
    const [why, target] = hasEndpoints ? ['has no local endpoints', 'DROP'] : ['has no endpoints', 'REJECT'];
    filterServices.push(`-A ${chains.services} -m comment --comment ${q(`${svc.key} ${why}`)} -p ${p} -m ${p} -d ${svc.clusterIP}/32 --dport ${svc.port} -j ${target}`);
  }

  // External addresses: externalIPs, load balancer IPs, node ports.
  const [extWhy, extTarget] = svc.externalPolicyLocal && hasEndpoints ? ['has no local endpoints', 'DROP'] : ['has no endpoints', 'REJECT'];
  // LoadBalancer source ranges: load balancer traffic goes through KUBE-FW, which passes allowed sources to
  // KUBE-EXT; anything else is not DNATed and so meets the DROP in filter KUBE-PROXY-FIREWALL (as upstream).
  const fwChain = firewallChain(svc.key, p);
  const usesFirewall = svc.loadBalancerSourceRanges.length > 0 && svc.loadBalancerIPs.length > 0;
  for (const [ips, what] of [[svc.externalIPs, 'external IP'], [svc.loadBalancerIPs, 'loadbalancer IP']] as const) {
    const isLB = what === 'loadbalancer IP';
    for (const ip of ips) {
      if (usesExternalChain) natServices.push(`-A ${chains.services} -m comment --comment ${q(`${svc.key} ${what}`)} -p ${p} -m ${p} -d ${ip}/32 --dport ${svc.port} -j ${isLB && usesFirewall ? fwChain : extChain}`);
      if (isLB && usesFirewall) filterFirewall.push(`-A ${chains.firewall} -m comment --comment ${q(`${svc.key} traffic not accepted by ${fwChain}`)} -p ${p} -m ${p} -d ${ip}/32 --dport ${svc.port} -j DROP`);
      if (!hasExternalEndpoints) filterExternal.push(`-A ${chains.externalServices} -m comment --comment ${q(`${svc.key} ${extWhy}`)} -p ${p} -m ${p} -d ${ip}/32 --dport ${svc.port} -j ${extTarget}`);
    }
  }
  if (svc.nodePort !== 0) {
    if (usesExternalChain) natNodePorts.push(`-A ${chains.nodePorts} -m comment --comment ${q(svc.key)} -p ${p} -m ${p} --dport ${svc.nodePort} -j ${extChain}`);
    if (!hasExternalEndpoints) filterExternal.push(`-A ${chains.externalServices} -m comment --comment ${q(`${svc.key} ${extWhy}`)} -m addrtype --dst-type LOCAL -p ${p} -m ${p} --dport ${svc.nodePort} -j ${extTarget}`);
  }

  if (usesExternalChain) {
    chain(extChain);
    if (!svc.externalPolicyLocal) {
      own.push(`-A ${extChain} -m comment --comment ${q(`masquerade traffic for ${svc.key} external destinations`)} -j ${chains.markMasq}`);
    } else {
      // Pods and the node itself reach an external address through any endpoint (short circuit), as upstream.
      if (node.clusterCIDR) own.push(`-A ${extChain} -s ${node.clusterCIDR} -m comment --comment ${q(`pod traffic for ${svc.key} external destinations`)} -j ${svcChain}`);
      own.push(`-A ${extChain} -m comment --comment ${q(`masquerade LOCAL traffic for ${svc.key} external destinations`)} -m addrtype --src-type LOCAL -j ${chains.markMasq}`);
      own.push(`-A ${extChain} -m comment --comment ${q(`route LOCAL traffic for ${svc.key} external destinations`)} -m addrtype --src-type LOCAL -j ${svcChain}`);
    }
    if (hasExternalEndpoints) own.push(`-A ${extChain} -j ${externalPolicyChain}`);
  }

  if (usesExternalChain && usesFirewall) {
    chain(fwChain);
    for (const range of svc.loadBalancerSourceRanges) {
      own.push(`-A ${fwChain} -m comment --comment ${q(`${svc.key} loadbalancer IP`)} -s ${range} -j ${extChain}`);
    }
    own.push(`-A ${fwChain} -m comment --comment ${q(`other traffic to ${svc.key} will be dropped by KUBE-PROXY-FIREWALL`)} -j RETURN`);
  }

  if (usesCluster) {
    chain(svcChain);
    endpointJumps(own, svc, svcChain, cluster);
  }
  if (usesLocal) {
    chain(svlChain);
    endpointJumps(own, svc, svlChain, local);
  }

  // One KUBE-SEP chain per endpoint reachable through either policy chain.
  const reachable = new Map<string, EndpointInfo>();
  if (usesCluster) for (const ep of cluster) reachable.set(`${ep.ip}:${ep.port}`, ep);
  if (usesLocal) for (const ep of local) reachable.set(`${ep.ip}:${ep.port}`, ep);
  for (const [id, ep] of reachable) {
    const sep = endpointChain(svc.key, p, id);
    chain(sep);
    own.push(`-A ${sep} -m comment --comment ${q(svc.key)} -s ${ep.ip}/32 -j ${chains.markMasq}`);
    const affinity = svc.affinitySeconds > 0 ? ` -m recent --name ${sep} --set` : '';
    own.push(`-A ${sep} -m comment --comment ${q(svc.key)}${affinity} -p ${p} -m ${p} -j DNAT --to-destination ${id}`);
  }
  return {
    chains: ownChains, chainDecls: ownChains.map((c) => `:${c} - [0:0]`).join('\n'), rules: own.join('\n'), ruleCount: own.length,
    natServices, natNodePorts, filterServices, filterExternal, filterFirewall,
  };
}

function sameLines(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((l, i) => l === b[i]);
}

function sameShared(a: ServiceRender, b: ServiceRender): boolean {
  return sameLines(a.natServices, b.natServices) && sameLines(a.natNodePorts, b.natNodePorts) &&
    sameLines(a.filterServices, b.filterServices) && sameLines(a.filterExternal, b.filterExternal) &&
    sameLines(a.filterFirewall, b.filterFirewall);
}

export function render(state: ProxyState, opts: RenderOptions = {}): RenderResult {
  const full = opts.changed === undefined;
  const node = state.node;
  const mark = markHex(node.masqueradeBit);
  const prev = full ? undefined : opts.previous;
  const previousShared = opts.previous?.shared ?? opts.previousShared;
  const serviceChains = new Set<string>(prev ? prev.serviceChains : []);
  const perService = new Map<string, ServiceRender>(prev ? prev.perService : []);
  // Shared chains are rebuilt when they may have changed, and written only when new or different.
  const natServices: string[] = [];
  const natNodePorts: string[] = [];
  const filterServices: string[] = [];
  const filterExternal: string[] = [];
  const filterFirewall: string[] = [];
  const natChainParts: string[] = [];
  const natRuleParts: string[] = [];
  const filterChainParts: string[] = [];
  const filterRuleParts: string[] = [];
  const stale: string[] = [];
  let chainsWritten = 0;
  let natRules = 0;
  let filterRules = 0;
  const writeOwn = (r: ServiceRender) => {
    if (r.chains.length === 0) return;
    natChainParts.push(r.chainDecls);
    if (r.rules) natRuleParts.push(r.rules);
    chainsWritten += r.chains.length;
    natRules += r.ruleCount;
  };

  let rebuildShared = true;
  if (prev) {
    // Partial render from the last applied one: touch only the changed service ports.
    rebuildShared = false;
    for (const key of opts.changed!) {
      const old = perService.get(key);
      const svc = state.services.get(key);
      const r = svc ? renderServicePortCached(svc, state.endpoints.get(key), node) : undefined;
      if (!old && !r) continue;
      if (r) { perService.set(key, r); writeOwn(r); } else perService.delete(key);
      if (!old || !r || !sameShared(old, r)) rebuildShared = true;
      for (const c of old?.chains ?? []) {
        if (!r || !r.chains.includes(c)) { serviceChains.delete(c); stale.push(c); }
      }
      for (const c of r?.chains ?? []) serviceChains.add(c);
    }
  } else {
    perService.clear();
    for (const svc of state.services.values()) {
      const r = renderServicePortCached(svc, state.endpoints.get(svc.key), node);
      perService.set(svc.key, r);
      for (const c of r.chains) serviceChains.add(c);
      if (full || opts.changed!.has(svc.key)) writeOwn(r);
    }
    for (const c of opts.previousChains ?? []) if (!serviceChains.has(c)) stale.push(c);
  }
  if (rebuildShared) {
    for (const svc of state.services.values()) {
      const r = perService.get(svc.key)!;
      for (const l of r.natServices) natServices.push(l);
      for (const l of r.natNodePorts) natNodePorts.push(l);
      for (const l of r.filterServices) filterServices.push(l);
      for (const l of r.filterExternal) filterExternal.push(l);
      for (const l of r.filterFirewall) filterFirewall.push(l);
    }
  }

  // Node ports: on every local address, or on the addresses inside --nodeport-addresses. Must be last.
  if (node.nodePortAddresses.length === 0) {
    natServices.push(`-A ${chains.services} -m comment --comment ${q('kubernetes service nodeports; NOTE: this must be the last rule in this chain')} -m addrtype --dst-type LOCAL -j ${chains.nodePorts}`);
  } else {
    for (const cidr of node.nodePortAddresses) {
      natServices.push(`-A ${chains.services} -m comment --comment ${q('kubernetes service nodeports; NOTE: this must be the last rule in this chain')} -d ${cidr} -m addrtype --dst-type LOCAL -j ${chains.nodePorts}`);
    }
  }

  const shared = new Map<string, string>(rebuildShared ? [] : previousShared ?? []);
  const sharedChain = (table: 'nat' | 'filter', name: string, rules: string[]) => {
    if (!rebuildShared) return;
    const body = rules.join('\n');
    shared.set(`${table}/${name}`, body);
    if (!full && previousShared?.get(`${table}/${name}`) === body) return;
    const [cs, rs] = table === 'nat' ? [natChainParts, natRuleParts] : [filterChainParts, filterRuleParts];
    cs.push(`:${name} - [0:0]`);
    if (body) rs.push(body);
    if (table === 'nat') natRules += rules.length; else filterRules += rules.length;
  };
  sharedChain('filter', chains.services, filterServices);
  sharedChain('filter', chains.externalServices, filterExternal);
  sharedChain('filter', chains.firewall, filterFirewall);
  sharedChain('filter', chains.forward, [
    `-A ${chains.forward} -m conntrack --ctstate INVALID -j DROP`,
    `-A ${chains.forward} -m comment --comment ${q('kubernetes forwarding rules')} -m mark --mark ${mark}/${mark} -j ACCEPT`,
    `-A ${chains.forward} -m comment --comment ${q('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  ]);
  sharedChain('nat', chains.services, natServices);
  sharedChain('nat', chains.nodePorts, natNodePorts);
  sharedChain('nat', chains.postrouting, [
    `-A ${chains.postrouting} -m mark ! --mark ${mark}/${mark} -j RETURN`,
    `-A ${chains.postrouting} -j MARK --xor-mark ${mark}`,
    `-A ${chains.postrouting} -m comment --comment ${q('kubernetes service traffic requiring SNAT')} -j MASQUERADE --random-fully`,
  ]);
  sharedChain('nat', chains.markMasq, [`-A ${chains.markMasq} -j MARK --or-mark ${mark}`]);

  // Chains of the previous sync that no state uses any more: flush (declare) and delete.
  const chainsDeleted = stale.length;
  const deletions: string[] = [];
  for (const c of stale) {
    natChainParts.push(`:${c} - [0:0]`);
    deletions.push(`-X ${c}`);
  }

  // Jumps from built-in chains go in only with a full render, where every target chain is declared.
  const jumps = full ? opts.jumps ?? [] : [];
  const jumpLines = (table: string) => jumps.filter((j) => j.table === table).map((j) => jumpRuleLine(j, '-I'));
  const parts: string[] = [];
  if (filterChainParts.length > 0) parts.push('*filter', ...filterChainParts, ...jumpLines('filter'), ...filterRuleParts, 'COMMIT');
  if (natChainParts.length > 0) parts.push('*nat', ...natChainParts, ...jumpLines('nat'), ...natRuleParts, ...deletions, 'COMMIT');
  return {
    payload: parts.length > 0 ? parts.join('\n') + '\n' : '',
    serviceChains,
    shared,
    perService,
    stats: {
      servicePorts: state.services.size, chainsWritten, chainsDeleted,
      natRules, filterRules,
    },
  };
}
