// Records Service changes between syncs: per service, the ports as they were at the last sync (previous) and
// as they are now (current). Informer callbacks only call update(); the proxier calls apply() when it syncs.
import type { V1Service } from '@kubernetes/client-node';
import type { Protocol, ServicePortInfo } from './types.ts';
import { isIPv4, isIPv4CIDR } from './ip.ts';

/** Told about a Service (or part of one) the proxy skips, with a message naming what is wrong. */
export type Warn = (svc: V1Service, message: string) => void;

interface Change { previous: Map<string, ServicePortInfo>; current: Map<string, ServicePortInfo> }

const defaultAffinitySeconds = 10800;

function validPort(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
}

/**
 * The ports of one Service as the proxy sees them. Headless and ExternalName services have none.
 * An invalid port or address skips that port (or IP) with a warning; it never throws.
 */
export function servicePortsOf(svc: V1Service, warn: Warn = () => {}): Map<string, ServicePortInfo> {
  const out = new Map<string, ServicePortInfo>();
  const namespace = svc.metadata?.namespace ?? 'default';
  const name = svc.metadata?.name ?? '';
  const spec = svc.spec;
  if (!spec || !name || spec.type === 'ExternalName') return out;
  const clusterIP = spec.clusterIP;
  if (!clusterIP || clusterIP === 'None') return out;
  if (!isIPv4(clusterIP)) {
    warn(svc, `clusterIP "${clusterIP}" is not an IPv4 address: service skipped`);
    return out;
  }
  const filterIPs = (ips: (string | undefined)[], what: string): string[] => ips.filter((ip): ip is string => {
    if (isIPv4(ip)) return true;
    warn(svc, `${what} "${ip}" is not an IPv4 address: ignored`);
    return false;
  });
  const externalIPs = filterIPs(spec.externalIPs ?? [], 'externalIP');
  const isLB = spec.type === 'LoadBalancer';
  const loadBalancerIPs = isLB ? filterIPs((svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip) => ip !== undefined), 'load balancer ingress IP') : [];
  const loadBalancerSourceRanges = isLB ? (spec.loadBalancerSourceRanges ?? []).filter((r) => {
    if (isIPv4CIDR(r.trim())) return true;
    warn(svc, `loadBalancerSourceRange "${r}" is not an IPv4 CIDR: ignored`);
    return false;
  }).map((r) => r.trim()) : [];
  const affinitySeconds = spec.sessionAffinity === 'ClientIP'
    ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? defaultAffinitySeconds) : 0;
  const hasNodePorts = spec.type === 'NodePort' || isLB;
  for (const p of spec.ports ?? []) {
    const portName = p.name ?? '';
    const protocol = (p.protocol ?? 'TCP') as Protocol;
    const key = `${namespace}/${name}:${portName}`;
    if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP') {
      warn(svc, `port "${portName}": protocol "${p.protocol}" is not TCP, UDP or SCTP: port skipped`);
      continue;
    }
    if (!validPort(p.port)) {
      warn(svc, `port "${portName}": port ${p.port} is not in 1-65535: port skipped`);
      continue;
    }
    let nodePort = 0;
    if (hasNodePorts && p.nodePort !== undefined && p.nodePort !== 0) {
      if (validPort(p.nodePort)) nodePort = p.nodePort;
      else warn(svc, `port "${portName}": nodePort ${p.nodePort} is not in 1-65535: nodePort ignored`);
    }
    out.set(key, {
      key, namespace, name, portName, protocol, port: p.port, clusterIP, nodePort,
      externalIPs, loadBalancerIPs, loadBalancerSourceRanges, affinitySeconds,
      externalPolicyLocal: spec.externalTrafficPolicy === 'Local' && (nodePort !== 0 || externalIPs.length > 0 || loadBalancerIPs.length > 0),
      internalPolicyLocal: spec.internalTrafficPolicy === 'Local',
    });
  }
  return out;
}

function samePort(a: ServicePortInfo, b: ServicePortInfo): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class ServiceChangeTracker {
  private readonly pending = new Map<string, Change>();
  private readonly warn: Warn;
  constructor(warn: Warn = () => {}) { this.warn = warn; }

  /** Record an add (previous null), update, or delete (current null). Returns true when a sync is needed. */
  update(previous: V1Service | null, current: V1Service | null): boolean {
    const svc = current ?? previous;
    if (!svc?.metadata?.name) return this.pending.size > 0;
    const id = `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`;
    let change = this.pending.get(id);
    if (!change) {
      change = { previous: previous ? servicePortsOf(previous) : new Map(), current: new Map() };
      this.pending.set(id, change);
    }
    change.current = current ? servicePortsOf(current, this.warn) : new Map();
    const unchanged = change.previous.size === change.current.size &&
      [...change.current].every(([k, v]) => { const p = change.previous.get(k); return p !== undefined && samePort(p, v); });
    if (unchanged) this.pending.delete(id);
    return this.pending.size > 0;
  }

  get pendingCount(): number { return this.pending.size; }

  /** Fold the pending changes into the service map; returns the keys of service ports added, changed or removed. */
  apply(services: Map<string, ServicePortInfo>): { changed: Set<string>; removed: ServicePortInfo[] } {
    const changed = new Set<string>();
    const removed: ServicePortInfo[] = [];
    for (const change of this.pending.values()) {
      for (const [key, info] of change.previous) {
        if (!change.current.has(key)) {
          const had = services.get(key);
          if (had) removed.push(had);
          services.delete(key);
          changed.add(key);
        }
      }
      for (const [key, info] of change.current) {
        const had = services.get(key);
        if (!had || !samePort(had, info)) changed.add(key);
        services.set(key, info);
      }
    }
    this.pending.clear();
    return { changed, removed };
  }
}
