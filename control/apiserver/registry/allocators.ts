// ClusterIP and NodePort allocation for Services. One apiserver owns allocation: used addresses are read from the
// services watch cache plus reservations made by in-flight creates (kept until the cache has caught up).
import { cause, errors } from '../../../api/errors.ts';
import { isObject } from './common.ts';
import type { Allocators, Obj } from './types.ts';

export interface Cidr { base: number; size: number; text: string }

export function parseCidr(text: string): Cidr {
  const m = text.match(/^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 30 || Number(m[5]) < 8) {
    throw new Error(`invalid --service-cluster-ip-range "${text}": want an IPv4 CIDR with a prefix between /8 and /30`);
  }
  const ip = m.slice(1, 5).reduce((a, o) => a * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(m[5]));
  return { base: ip - (ip % size), size, text };
}

export function ipToString(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
function ipToNumber(s: string): number | undefined {
  const m = s.match(/^(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
  if (!m || m.slice(1).some((o) => Number(o) > 255)) return undefined;
  return m.slice(1).reduce((a, o) => a * 256 + Number(o), 0);
}

export function parsePortRange(text: string): { min: number; max: number } {
  const m = text.match(/^(\d+)-(\d+)$/);
  if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) > 65535 || Number(m[1]) < 1) {
    throw new Error(`invalid --service-node-port-range "${text}": want "min-max" like 30000-32767`);
  }
  return { min: Number(m[1]), max: Number(m[2]) };
}

export class ServiceAllocators implements Allocators {
  private readonly cidr: Cidr;
  private readonly ports: { min: number; max: number };
  private readonly listServices: () => Obj[];
  private readonly reservedIPs = new Map<string, number>();
  private readonly reservedPorts = new Map<number, number>();

  constructor(cidr: Cidr, ports: { min: number; max: number }, listServices: () => Obj[]) {
    this.cidr = cidr;
    this.ports = ports;
    this.listServices = listServices;
  }

  /** The first address of the range: the default/kubernetes service's ClusterIP. */
  get firstIP(): string { return ipToString(this.cidr.base + 1); }

  /** Addresses and ports in use, not counting `self`'s stored copy (its create answers AlreadyExists later). */
  private used(self: Obj): { ips: Set<string>; ports: Set<number> } {
    const now = Date.now();
    const ips = new Set<string>();
    const ports = new Set<number>();
    for (const [ip, until] of this.reservedIPs) if (until < now) this.reservedIPs.delete(ip); else ips.add(ip);
    for (const [p, until] of this.reservedPorts) if (until < now) this.reservedPorts.delete(p); else ports.add(p);
    for (const svc of this.listServices()) {
      if (svc?.metadata?.name === self?.metadata?.name && svc?.metadata?.namespace === self?.metadata?.namespace) continue;
      if (svc?.spec?.clusterIP) ips.add(svc.spec.clusterIP);
      for (const p of svc?.spec?.ports ?? []) if (p?.nodePort) ports.add(p.nodePort);
    }
    return { ips, ports };
  }

  allocateService(svc: Obj, old?: Obj): void {
    const s = svc.spec;
    if (!isObject(s) || s.type === 'ExternalName') return;
    const used = this.used(svc);
    const hold = Date.now() + 30_000;
    const name = svc?.metadata?.name ?? '';
    // ClusterIP
    if (s.clusterIP !== 'None' && !(old && old.spec?.clusterIP === s.clusterIP && s.clusterIP)) {
      if (s.clusterIP) {
        const n = ipToNumber(String(s.clusterIP));
        if (n === undefined || n <= this.cidr.base || n >= this.cidr.base + this.cidr.size - 1) {
          throw errors.invalid('Service', name, [cause.invalid('spec.clusterIPs', [s.clusterIP], `failed to allocate IP ${s.clusterIP}: the provided IP (${s.clusterIP}) is not in the valid range. The range of valid IPs is ${this.cidr.text}`)]);
        }
        if (used.ips.has(s.clusterIP)) {
          throw errors.invalid('Service', name, [cause.invalid('spec.clusterIPs', [s.clusterIP], `failed to allocate IP ${s.clusterIP}: provided IP is already allocated`)]);
        }
      } else {
        const free = this.cidr.size - 2 - used.ips.size;
        if (free <= 0) throw errors.internal('failed to allocate a serviceIP: range is full');
        let ip = '';
        for (let tries = 0; tries < 64 && !ip; tries++) {
          const cand = ipToString(this.cidr.base + 1 + Math.floor(Math.random() * (this.cidr.size - 2)));
          if (!used.ips.has(cand) && cand !== this.firstIP) ip = cand;
        }
        for (let n = this.cidr.base + 2; !ip && n < this.cidr.base + this.cidr.size - 1; n++) if (!used.ips.has(ipToString(n))) ip = ipToString(n);
        if (!ip) throw errors.internal('failed to allocate a serviceIP: range is full');
        s.clusterIP = ip;
      }
      this.reservedIPs.set(s.clusterIP, hold);
    }
    if (s.clusterIP) s.clusterIPs = [s.clusterIP];
    s.ipFamilies ??= ['IPv4'];
    s.ipFamilyPolicy ??= 'SingleStack';
    // NodePorts
    if (s.type !== 'NodePort' && s.type !== 'LoadBalancer') return;
    const oldPorts = new Set<number>((old?.spec?.ports ?? []).map((p: Obj) => p?.nodePort).filter(Boolean));
    for (const [i, p] of (Array.isArray(s.ports) ? s.ports : []).entries()) {
      if (!isObject(p)) continue;
      if (p.nodePort) {
        if (oldPorts.has(p.nodePort as number)) continue;
        const np = p.nodePort as number;
        if (!Number.isInteger(np) || np < this.ports.min || np > this.ports.max) {
          throw errors.invalid('Service', name, [cause.invalid(`spec.ports[${i}].nodePort`, np, `provided port is not in the valid range. The range of valid ports is ${this.ports.min}-${this.ports.max}`)]);
        }
        if (used.ports.has(np)) throw errors.invalid('Service', name, [cause.invalid(`spec.ports[${i}].nodePort`, np, 'provided port is already allocated')]);
      } else {
        let port = 0;
        const span = this.ports.max - this.ports.min + 1;
        const start = Math.floor(Math.random() * span);
        for (let k = 0; k < span && !port; k++) {
          const cand = this.ports.min + ((start + k) % span);
          if (!used.ports.has(cand)) port = cand;
        }
        if (!port) throw errors.internal('failed to allocate a nodePort: range is full');
        p.nodePort = port;
      }
      used.ports.add(p.nodePort as number);
      this.reservedPorts.set(p.nodePort as number, hold);
    }
  }

  releaseService(svc: Obj): void {
    if (svc?.spec?.clusterIP) this.reservedIPs.delete(svc.spec.clusterIP);
    for (const p of svc?.spec?.ports ?? []) if (p?.nodePort) this.reservedPorts.delete(p.nodePort);
  }
}
