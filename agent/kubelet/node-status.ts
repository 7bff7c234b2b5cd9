// The Node object: registration (capacity, allocatable, nodeInfo, addresses, labels, podCIDR), status
// conditions that say why the node is not Ready, and the Lease heartbeat in kube-node-lease.
import type { V1Lease, V1Node, V1NodeCondition, V1NodeStatus } from '@kubernetes/client-node';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { rfc3339, rfc3339Micro } from '../../api/meta.ts';
import { ApiError } from '../../api/errors.ts';
import type { KubeletApi } from './api.ts';
import type { Pressure } from './pressure.ts';

export const KUBELET_VERSION = 'v1.32.0-kts';
export const LEASE_NAMESPACE = 'kube-node-lease';
export const LEASE_DURATION_SECONDS = 40;

export interface NodeFacts {
  cpuCores: number;
  memoryBytes: number;
  ephemeralStorageBytes: number;
  kernelVersion: string;
  osImage: string;
  architecture: string;
  machineID: string;
  systemUUID: string;
  bootID: string;
}

/** Facts from systeminformation and /proc, read once at start. */
export async function gatherNodeFacts(rootDir: string): Promise<NodeFacts> {
  const si = await import('systeminformation');
  const [cpu, mem, osInfo, fs, uuid] = await Promise.all([
    si.cpu().catch(() => undefined), si.mem().catch(() => undefined), si.osInfo().catch(() => undefined),
    si.fsSize().catch(() => []), si.uuid().catch(() => undefined),
  ]);
  const rootFs = [...fs].filter((f) => rootDir.startsWith(f.mount)).sort((a, b) => b.mount.length - a.mount.length)[0];
  const read = (p: string) => readFile(p, 'utf8').then((s) => s.trim(), () => '');
  return {
    cpuCores: os.availableParallelism?.() ?? cpu?.cores ?? os.cpus().length,
    memoryBytes: mem?.total ?? os.totalmem(),
    ephemeralStorageBytes: rootFs?.size ?? 0,
    kernelVersion: osInfo?.kernel || os.release(),
    osImage: osInfo ? `${osInfo.distro} ${osInfo.release}${osInfo.codename ? ` (${osInfo.codename})` : ''}`.trim() : os.type(),
    architecture: ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch,
    machineID: (await read('/etc/machine-id')) || uuid?.os || '',
    systemUUID: uuid?.hardware || (await read('/sys/class/dmi/id/product_uuid')) || '',
    bootID: await read('/proc/sys/kernel/random/boot_id'),
  };
}

/**
 * The node's IP: the flag if given; otherwise the first non-internal IPv4, skipping Vagrant's NAT
 * address 10.0.2.15 whenever another NIC has an address (every Vagrant VM has the same NAT IP).
 */
export function pickNodeIP(flag: string | undefined, ifaces = os.networkInterfaces()): string {
  if (flag) return flag;
  const candidates: string[] = [];
  for (const [name, addrs] of Object.entries(ifaces)) {
    if (/^(lo|cni|docker|veth|flannel|kube|kts)/.test(name)) continue;
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) candidates.push(a.address);
  }
  return candidates.find((ip) => ip !== '10.0.2.15') ?? candidates[0] ?? '127.0.0.1';
}

export interface NodeIdentity {
  nodeName: string;
  hostname: string;
  nodeIP: string;
  podCIDR?: string;
  labels: Record<string, string>;
  kubeletPort: number;
  maxPods: number;
}

export function capacity(facts: NodeFacts, maxPods: number): Record<string, string> {
  return {
    cpu: String(facts.cpuCores),
    memory: `${Math.floor(facts.memoryBytes / 1024)}Ki`,
    pods: String(maxPods),
    'ephemeral-storage': `${Math.floor(facts.ephemeralStorageBytes / 1024)}Ki`,
  };
}

export interface Health {
  runtimeReady: boolean;
  runtimeMessage: string;
  networkReady: boolean;
  networkMessage: string;
  runtimeVersion: string;
  /** Signals under their eviction thresholds (pressure.ts); absent when they could not be read. */
  pressure?: Pressure;
}

export function nodeConditions(h: Health, nowMs: number, previous: V1NodeCondition[] | undefined): V1NodeCondition[] {
  const t = rfc3339(nowMs) as unknown as Date;
  const cond = (type: string, ok: boolean, reason: string, message: string): V1NodeCondition => {
    const status = ok ? (type === 'Ready' ? 'True' : 'False') : (type === 'Ready' ? 'False' : 'True');
    const old = previous?.find((c) => c.type === type);
    return { type, status, reason, message, lastHeartbeatTime: t,
      lastTransitionTime: old && old.status === status && old.lastTransitionTime ? old.lastTransitionTime : t };
  };
  const problems: string[] = [];
  if (!h.runtimeReady) problems.push(`container runtime is down: ${h.runtimeMessage}`);
  if (!h.networkReady) problems.push(`container runtime network not ready: ${h.networkMessage}`);
  return [
    h.pressure?.memory ? cond('MemoryPressure', false, 'KubeletHasInsufficientMemory', 'kubelet has insufficient memory available')
      : cond('MemoryPressure', true, 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    h.pressure?.disk ? cond('DiskPressure', false, 'KubeletHasDiskPressure', 'kubelet has disk pressure')
      : cond('DiskPressure', true, 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    h.pressure?.pid ? cond('PIDPressure', false, 'KubeletHasInsufficientPID', 'kubelet has insufficient PID available')
      : cond('PIDPressure', true, 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    problems.length ? cond('Ready', false, 'KubeletNotReady', problems.join(', '))
      : cond('Ready', true, 'KubeletReady', 'kubelet is posting ready status'),
  ];
}

export function nodeStatus(id: NodeIdentity, facts: NodeFacts, h: Health, nowMs: number, previous?: V1NodeStatus): V1NodeStatus {
  const cap = capacity(facts, id.maxPods);
  return {
    capacity: cap,
    allocatable: { ...cap },
    conditions: nodeConditions(h, nowMs, previous?.conditions),
    addresses: [{ type: 'InternalIP', address: id.nodeIP }, { type: 'Hostname', address: id.hostname }],
    daemonEndpoints: { kubeletEndpoint: { Port: id.kubeletPort } },
    nodeInfo: {
      machineID: facts.machineID, systemUUID: facts.systemUUID, bootID: facts.bootID,
      kernelVersion: facts.kernelVersion, osImage: facts.osImage, containerRuntimeVersion: h.runtimeVersion,
      kubeletVersion: KUBELET_VERSION, kubeProxyVersion: KUBELET_VERSION, operatingSystem: 'linux', architecture: facts.architecture,
    },
  };
}

export function nodeObject(id: NodeIdentity, facts: NodeFacts, h: Health, nowMs: number): V1Node {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: {
      name: id.nodeName,
      labels: {
        'kubernetes.io/hostname': id.hostname,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': facts.architecture,
        'beta.kubernetes.io/os': 'linux',
        'beta.kubernetes.io/arch': facts.architecture,
        ...id.labels,
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: id.podCIDR ? { podCIDR: id.podCIDR, podCIDRs: [id.podCIDR] } : {},
    status: nodeStatus(id, facts, h, nowMs),
  };
}

/** Lease object for the heartbeat. */
export function leaseObject(nodeName: string, nodeUid: string | undefined, nowMs: number, existing?: V1Lease): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
    metadata: {
      ...(existing?.metadata ?? {}),
      name: nodeName, namespace: LEASE_NAMESPACE,
      ...(nodeUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid }] } : {}),
    },
    spec: {
      ...(existing?.spec ?? {}),
      holderIdentity: nodeName, leaseDurationSeconds: LEASE_DURATION_SECONDS,
      renewTime: rfc3339Micro(nowMs) as unknown as Date,
    },
  };
}

export interface NodeAgentOptions {
  api: KubeletApi;
  identity: NodeIdentity;
  facts: NodeFacts;
  health: () => Promise<Health>;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  leaseIntervalMs?: number;
  statusIntervalMs?: number;
  /** Status is re-sent at least this often even when unchanged (heartbeat in conditions). */
  statusReportMs?: number;
}

/** Registers the node, then keeps its Lease and status fresh. */
export class NodeAgent {
  private readonly o: NodeAgentOptions;
  private node?: V1Node;
  private timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;
  private lastReport = 0;
  private lastKey = '';
  lastHealth?: Health;

  constructor(o: NodeAgentOptions) {
    this.o = o;
  }

  get registered(): V1Node | undefined {
    return this.node;
  }

  /** Create the node, or adopt the existing one and refresh its status. Retries until it works. */
  async register(): Promise<V1Node> {
    for (let attempt = 0; ; attempt++) {
      try {
        const h = await this.o.health();
        this.lastHealth = h;
        const existing = await this.o.api.getNode(this.o.identity.nodeName);
        if (existing) {
          this.node = existing;
          await this.updateStatus(true);
        } else {
          try {
            this.node = await this.o.api.createNode(nodeObject(this.o.identity, this.o.facts, h, Date.now()));
          } catch (err) {
            if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err;
            continue;
          }
          this.lastReport = Date.now();
          this.lastKey = this.healthKey(h);
        }
        this.o.log('node registered', { node: this.o.identity.nodeName });
        return this.node!;
      } catch (err) {
        this.o.log('node registration failed, retrying', { err: (err as Error).message, attempt });
        await new Promise((r) => setTimeout(r, Math.min(7_000, 500 * 2 ** attempt)));
      }
    }
  }

  private healthKey(h: Health): string {
    const p = h.pressure;
    return `${h.runtimeReady}|${h.runtimeMessage}|${h.networkReady}|${h.networkMessage}|${h.runtimeVersion}|` +
      `${p?.memory}|${p?.disk}|${p?.pid}`;
  }

  /** Patch the status when health changed, or when the report interval passed. */
  async updateStatus(force = false): Promise<void> {
    const h = await this.o.health();
    this.lastHealth = h;
    const key = this.healthKey(h);
    const now = Date.now();
    if (!force && key === this.lastKey && now - this.lastReport < (this.o.statusReportMs ?? 60_000)) return;
    const status = nodeStatus(this.o.identity, this.o.facts, h, now, this.node?.status);
    this.node = await this.o.api.patchNodeStatus(this.o.identity.nodeName, status);
    this.lastKey = key;
    this.lastReport = now;
  }

  async renewLease(): Promise<void> {
    const name = this.o.identity.nodeName;
    const existing = await this.o.api.getLease(LEASE_NAMESPACE, name);
    const lease = leaseObject(name, this.node?.metadata?.uid, Date.now(), existing ?? undefined);
    if (existing) await this.o.api.updateLease(lease);
    else await this.o.api.createLease(lease);
  }

  start(): void {
    const every = (ms: number, fn: () => Promise<void>, what: string) => {
      const run = async () => {
        try {
          await fn();
        } catch (err) {
          this.o.log(`${what} failed`, { err: (err as Error).message });
        }
        if (!this.stopped) this.timers.set(what, setTimeout(run, ms));
      };
      void run();
    };
    every(this.o.leaseIntervalMs ?? 10_000, () => this.renewLease(), 'lease renewal');
    every(this.o.statusIntervalMs ?? 10_000, () => this.updateStatus(), 'node status update');
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
