// Records EndpointSlice changes between syncs, per slice (previous/current), and on apply() recomputes the
// endpoints of each touched service from all of its slices. Port names in the slice are the service's port
// names, so named target ports arrive already resolved by the EndpointSlice controller.
import type { V1EndpointSlice } from '@kubernetes/client-node';
import type { EndpointInfo } from './types.ts';
import { isIPv4 } from './ip.ts';

const serviceNameLabel = 'kubernetes.io/service-name';
const triggerTimeAnnotation = 'endpoints.kubernetes.io/last-change-trigger-time';

export interface EndpointsApplied {
  /** Service port keys whose endpoint list changed. */
  changed: Set<string>;
  /** Per changed service port: endpoints that served before and no longer exist or serve (for UDP conntrack flushes). */
  gone: Map<string, EndpointInfo[]>;
  /** Service port keys that had no serving endpoint and now have one (UDP: stale REJECT-era conntrack entries). */
  nowServing: Set<string>;
  /** Earliest change trigger time (ms) among the applied changes, for network programming latency. */
  triggerTimes: number[];
}

/** "ns/service" that a slice belongs to, or '' when it names none. */
export function serviceOfSlice(slice: V1EndpointSlice): string {
  const svc = slice.metadata?.labels?.[serviceNameLabel];
  return svc ? `${slice.metadata?.namespace ?? 'default'}/${svc}` : '';
}

/** The endpoints per service port key that a set of slices of one service describes. */
export function endpointsOfSlices(service: string, slices: Iterable<V1EndpointSlice>, nodeName: string): Map<string, EndpointInfo[]> {
  const out = new Map<string, EndpointInfo[]>();
  const seen = new Map<string, Set<string>>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    for (const port of slice.ports ?? []) {
      if (port.port === undefined || !Number.isInteger(port.port) || port.port < 1 || port.port > 65535) continue;
      const key = `${service}:${port.name ?? ''}`;
      let list = out.get(key);
      let dedupe = seen.get(key);
      if (!list || !dedupe) { list = []; dedupe = new Set(); out.set(key, list); seen.set(key, dedupe); }
      for (const ep of slice.endpoints ?? []) {
        const ip = ep.addresses?.[0];
        if (!isIPv4(ip)) continue;
        const id = `${ip}:${port.port}`;
        if (dedupe.has(id)) continue;
        dedupe.add(id);
        // Unset conditions: ready and serving default to true, terminating to false (API semantics).
        const ready = ep.conditions?.ready ?? true;
        list.push({
          ip, port: port.port, ready,
          serving: ep.conditions?.serving ?? ready,
          terminating: ep.conditions?.terminating ?? false,
          isLocal: nodeName !== '' && ep.nodeName === nodeName,
        });
      }
    }
  }
  for (const list of out.values()) list.sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1));
  return out;
}

function sameEndpoints(a: EndpointInfo[] | undefined, b: EndpointInfo[] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

export class EndpointsChangeTracker {
  /** Slices as of the last apply(), per service. */
  private readonly slices = new Map<string, Map<string, V1EndpointSlice>>();
  /** Slices changed since, per service: name -> current (null: deleted). */
  private readonly pending = new Map<string, Map<string, V1EndpointSlice | null>>();
  private readonly triggerTimes = new Map<string, number>();
  private readonly nodeName: string;
  private readonly now: () => number;

  constructor(nodeName: string, now: () => number = Date.now) {
    this.nodeName = nodeName;
    this.now = now;
  }

  update(previous: V1EndpointSlice | null, current: V1EndpointSlice | null): boolean {
    const slice = current ?? previous;
    const service = slice ? serviceOfSlice(slice) : '';
    const name = slice?.metadata?.name;
    if (!service || !name) return this.pending.size > 0;
    let changes = this.pending.get(service);
    if (!changes) { changes = new Map(); this.pending.set(service, changes); }
    changes.set(name, current);
    const stamp = Date.parse(current?.metadata?.annotations?.[triggerTimeAnnotation] ?? '');
    if (!this.triggerTimes.has(service)) this.triggerTimes.set(service, Number.isFinite(stamp) ? stamp : this.now());
    return true;
  }

  get pendingCount(): number { return this.pending.size; }

  apply(endpoints: Map<string, EndpointInfo[]>): EndpointsApplied {
    const changed = new Set<string>();
    const nowServing = new Set<string>();
    const gone = new Map<string, EndpointInfo[]>();
    const triggerTimes: number[] = [];
    for (const [service, changes] of this.pending) {
      const before = this.slices.get(service) ?? new Map<string, V1EndpointSlice>();
      const after = new Map(before);
      for (const [name, slice] of changes) {
        if (slice) after.set(name, slice); else after.delete(name);
      }
      const oldByPort = endpointsOfSlices(service, before.values(), this.nodeName);
      const newByPort = endpointsOfSlices(service, after.values(), this.nodeName);
      for (const key of new Set([...oldByPort.keys(), ...newByPort.keys()])) {
        const oldList = oldByPort.get(key);
        const newList = newByPort.get(key);
        if (sameEndpoints(oldList, newList)) continue;
        changed.add(key);
        if (newList && newList.length > 0) endpoints.set(key, newList); else endpoints.delete(key);
        const stillServing = new Set((newList ?? []).filter((e) => e.serving).map((e) => `${e.ip}:${e.port}`));
        const lost = (oldList ?? []).filter((e) => e.serving && !stillServing.has(`${e.ip}:${e.port}`));
        if (lost.length > 0) gone.set(key, lost);
        if (stillServing.size > 0 && !(oldList ?? []).some((e) => e.serving)) nowServing.add(key);
      }
      if (after.size > 0) this.slices.set(service, after); else this.slices.delete(service);
      const t = this.triggerTimes.get(service);
      if (t !== undefined) triggerTimes.push(t);
    }
    this.pending.clear();
    this.triggerTimes.clear();
    return { changed, gone, nowServing, triggerTimes };
  }
}

/**
 * Which endpoints carry traffic, as upstream's CategorizeEndpoints: ready ones; when none is ready, the
 * serving terminating ones. Local variants for Local traffic policies.
 */
export function categorize(all: EndpointInfo[]): { cluster: EndpointInfo[]; local: EndpointInfo[] } {
  const pick = (list: EndpointInfo[]) => {
    const ready = list.filter((e) => e.ready);
    return ready.length > 0 ? ready : list.filter((e) => e.serving && e.terminating);
  };
  return { cluster: pick(all), local: pick(all.filter((e) => e.isLocal)) };
}
