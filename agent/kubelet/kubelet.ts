// The kubelet: wires the pod source, pod workers, PLEG, probes, status manager, node agent and CNI
// config together. Every trigger (API update, runtime change, probe result, back-off expiry, periodic
// resync) ends up as workers.update(uid); the worker runs syncPod for the newest desired pod.
import type { V1Pod } from '@kubernetes/client-node';
import path from 'node:path';
import type { RuntimeService } from '../cri/types.ts';
import { ProbeManager } from '../probes/manager.ts';
import type { KubeletApi } from './api.ts';
import { writeCniConfig } from './cni.ts';
import { EventRecorder } from './events.ts';
import { gatherNodeFacts, NodeAgent, pickNodeIP, type Health, type NodeFacts } from './node-status.ts';
import { DEFAULT_EVICTION_HARD, parseEvictionHard, pressureOf, readSignals, type Pressure, type Signal, type Signals, type Threshold } from './pressure.ts';
import { Pleg } from './pleg.ts';
import { PodWorkers } from './pod-workers.ts';
import { RuntimeInspector } from './runtime-state.ts';
import { ANNOTATION_CONFIG_MIRROR, isMirrorPod, loadStaticPods, mirrorPod } from './static-pods.ts';
import { StatusManager } from './status-manager.ts';
import { PodSyncer, type SyncConfig } from './sync.ts';

export type Logger = (msg: string, fields?: Record<string, unknown>) => void;

export interface KubeletConfig {
  nodeName: string;
  hostname: string;
  nodeIP?: string;
  rootDir: string;
  logRoot: string;
  cgroupRoot: string;
  clusterDNS: string[];
  clusterDomain: string;
  podCIDR?: string;
  cniConfDir?: string;
  cniBridge?: string;
  cniIpMasq?: boolean;
  /** Directory of static pod manifests (--pod-manifest-path). */
  staticPodPath?: string;
  nodeLabels: Record<string, string>;
  port: number;
  maxPods: number;
  plegPeriodMs: number;
  resyncPeriodMs: number;
  leaseIntervalMs: number;
  statusIntervalMs: number;
  /** Pod sandboxes created at once (default 4; see agent/kubelet/README.md "Pod startup"). */
  sandboxParallelism?: number;
  /** Hard eviction thresholds (KubeletConfiguration evictionHard); they drive the pressure conditions. */
  evictionHard: Partial<Record<Signal, Threshold>>;
}

export const DEFAULT_KUBELET_CONFIG: Omit<KubeletConfig, 'nodeName' | 'hostname'> = {
  rootDir: '/var/lib/kubelet',
  logRoot: '/var/log/pods',
  cgroupRoot: '/',
  clusterDNS: [],
  clusterDomain: 'cluster.local',
  nodeLabels: {},
  port: 10250,
  maxPods: 110,
  plegPeriodMs: 1000,
  resyncPeriodMs: 10_000,
  leaseIntervalMs: 10_000,
  statusIntervalMs: 10_000,
  evictionHard: parseEvictionHard(DEFAULT_EVICTION_HARD),
};

export interface KubeletDeps {
  api: KubeletApi;
  runtime: RuntimeService;
  config: KubeletConfig;
  log?: Logger;
  /** Skip systeminformation (tests, hollow nodes). */
  facts?: NodeFacts;
  /** Where the eviction signals come from (default: this host, pressure.ts readSignals). */
  signals?: (rootDir: string) => Promise<Signals>;
}

export class Kubelet {
  readonly config: KubeletConfig;
  readonly api: KubeletApi;
  readonly runtime: RuntimeService;
  readonly nodeIP: string;
  readonly desired = new Map<string, V1Pod>();
  readonly statusManager: StatusManager;
  readonly probes: ProbeManager;
  readonly pleg: Pleg;
  readonly workers: PodWorkers;
  readonly syncer: PodSyncer;
  nodeAgent?: NodeAgent;
  private readonly log: Logger;
  private readonly inspector: RuntimeInspector;
  private readonly syncConfig: SyncConfig;
  private stopWatch?: () => void;
  private resyncTimer?: NodeJS.Timeout;
  private readonly wakeups = new Map<string, NodeJS.Timeout>();
  private podsSynced = false;
  private podCIDR?: string;
  private facts?: NodeFacts;
  private runtimeVersion = '';
  private readonly signals: (rootDir: string) => Promise<Signals>;
  /** Static pods by uid, and the API's mirror pods by static uid (to skip them and to delete them). */
  private readonly staticPods = new Map<string, V1Pod>();
  private readonly mirrors = new Map<string, V1Pod>();
  private staticTimer?: NodeJS.Timeout;

  constructor(deps: KubeletDeps) {
    this.config = deps.config;
    this.api = deps.api;
    this.runtime = deps.runtime;
    this.facts = deps.facts;
    this.signals = deps.signals ?? readSignals;
    this.log = deps.log ?? (() => {});
    this.nodeIP = pickNodeIP(deps.config.nodeIP);
    this.podCIDR = deps.config.podCIDR;
    this.inspector = new RuntimeInspector(this.runtime);
    this.syncConfig = {
      nodeName: this.config.nodeName, hostIP: this.nodeIP, rootDir: this.config.rootDir, logRoot: this.config.logRoot,
      cgroupRoot: this.config.cgroupRoot, clusterDNS: this.config.clusterDNS, clusterDomain: this.config.clusterDomain,
      nodeMemoryBytes: this.facts?.memoryBytes ?? 0,
    };
    this.statusManager = new StatusManager(this.api, (pod, err) => this.log('pod status write failed', { pod, err: (err as Error).message }));
    const events = new EventRecorder(this.api, this.config.nodeName, (err) => this.log('event write failed', { err: (err as Error).message }));
    this.workers = new PodWorkers((uid) => this.syncPod(uid), (uid, err) => {
      this.log('pod sync failed', { uid, err: (err as Error).message });
      this.wakeAt(uid, Date.now() + 2_000);
    });
    this.probes = new ProbeManager({
      runtime: this.runtime,
      onUnhealthy: (uid, name, id, kind, message) => {
        const pod = this.desired.get(uid);
        if (pod) events.pod(pod, 'Warning', 'Unhealthy', `${kind[0]!.toUpperCase()}${kind.slice(1)} probe failed: ${message}`, `spec.containers{${name}}`);
        this.syncer.markUnhealthy(uid, id, message);
        this.workers.update(uid);
      },
      onResult: (uid) => this.workers.update(uid),
    });
    this.syncer = new PodSyncer({
      runtime: this.runtime, inspector: this.inspector, api: this.api, probes: this.probes, status: this.statusManager, events,
      config: this.syncConfig,
      resyncAt: (uid, at) => this.wakeAt(uid, at),
      log: this.log,
      sandboxParallelism: this.config.sandboxParallelism,
    });
    this.pleg = new Pleg({
      inspector: this.inspector, periodMs: this.config.plegPeriodMs,
      onChange: (uid) => { if (this.podsSynced) this.workers.update(uid); },
      onError: (err) => this.log('relist failed', { err: (err as Error).message }),
    });
  }

  /** Run syncPod for uid again at atMs (the earliest request wins). */
  private wakeAt(uid: string, atMs: number): void {
    const existing = this.wakeups.get(uid);
    if (existing) clearTimeout(existing);
    const t = setTimeout(() => {
      this.wakeups.delete(uid);
      this.workers.update(uid);
    }, Math.max(0, atMs - Date.now()) + 5);
    t.unref?.();
    this.wakeups.set(uid, t);
  }

  private async syncPod(uid: string): Promise<void> {
    const pod = this.desired.get(uid);
    if (!pod && !this.podsSynced) return;
    await this.syncer.sync(uid, pod);
    if (!pod) this.desired.delete(uid);
  }

  /** The runtime's view of one pod (for the kubelet server). */
  inspectPod(uid: string) {
    return this.inspector.inspectPod(uid);
  }

  /** A pod this kubelet runs, by namespace and name (static pods by their mirror name too). */
  findPod(namespace: string, name: string): V1Pod | undefined {
    for (const p of this.desired.values()) if (p.metadata?.namespace === namespace && p.metadata?.name === name) return p;
    return undefined;
  }

  /** Runtime and network health from CRI Status, for the node's Ready condition; pressure from the host. */
  async health(): Promise<Health> {
    const [runtime, pressure] = await Promise.all([this.runtimeHealth(), this.pressure()]);
    return { ...runtime, pressure };
  }

  private async pressure(): Promise<Pressure | undefined> {
    try {
      return pressureOf(await this.signals(this.config.rootDir), this.config.evictionHard);
    } catch (err) {
      this.log('cannot read eviction signals', { err: (err as Error).message });
      return undefined;
    }
  }

  private async runtimeHealth(): Promise<Health> {
    try {
      const [status, version] = await Promise.all([this.runtime.status(), this.runtimeVersion ? null : this.runtime.version()]);
      if (version) this.runtimeVersion = `${version.runtime_name}://${version.runtime_version}`;
      const conds = status.status?.conditions ?? [];
      const rt = conds.find((c) => c.type === 'RuntimeReady');
      const net = conds.find((c) => c.type === 'NetworkReady');
      return {
        runtimeReady: !!rt?.status, runtimeMessage: rt?.status ? '' : `RuntimeReady=false reason:${rt?.reason ?? ''} message:${rt?.message ?? ''}`,
        networkReady: !!net?.status, networkMessage: net?.status ? '' : `NetworkReady=false reason:${net?.reason ?? ''} message:${net?.message ?? ''}`,
        runtimeVersion: this.runtimeVersion,
      };
    } catch (err) {
      return { runtimeReady: false, runtimeMessage: (err as Error).message, networkReady: false,
        networkMessage: 'container runtime is unreachable', runtimeVersion: this.runtimeVersion };
    }
  }

  /** Register the node, write CNI config, then start watching pods and the runtime. */
  async start(): Promise<void> {
    this.facts ??= await gatherNodeFacts(this.config.rootDir);
    const facts = this.facts;
    this.syncConfig.nodeMemoryBytes = facts.memoryBytes;
    if (this.podCIDR && this.config.cniConfDir) await this.writeCni(this.podCIDR);
    this.nodeAgent = new NodeAgent({
      api: this.api, facts, log: this.log, health: () => this.health(),
      leaseIntervalMs: this.config.leaseIntervalMs, statusIntervalMs: this.config.statusIntervalMs,
      identity: { nodeName: this.config.nodeName, hostname: this.config.hostname, nodeIP: this.nodeIP, podCIDR: this.podCIDR,
        labels: this.config.nodeLabels, kubeletPort: this.config.port, maxPods: this.config.maxPods },
    });
    const node = await this.nodeAgent.register();
    if (!this.podCIDR && node.spec?.podCIDR && this.config.cniConfDir) {
      this.podCIDR = node.spec.podCIDR;
      await this.writeCni(this.podCIDR);
    }
    this.nodeAgent.start();
    this.stopWatch = await this.api.watchPods(this.config.nodeName, {
      upsert: (pod) => this.upsertPod(pod),
      remove: (pod) => this.removePod(pod),
    });
    this.podsSynced = true;
    if (this.config.staticPodPath) await this.syncStaticPods();
    for (const uid of this.desired.keys()) this.workers.update(uid);
    this.pleg.start();
    const resync = () => {
      for (const uid of this.desired.keys()) this.workers.update(uid);
      // Runtime pods the API no longer knows (deleted while the kubelet was down) are cleaned up too.
      for (const uid of this.pleg.pods.keys()) if (!this.desired.has(uid)) this.workers.update(uid);
      this.statusManager.retry();
      void this.maybeLearnPodCIDR();
      this.resyncTimer = setTimeout(resync, this.config.resyncPeriodMs);
    };
    this.resyncTimer = setTimeout(resync, this.config.resyncPeriodMs);
  }

  private async writeCni(podCIDR: string): Promise<void> {
    // IPAM leases live under the kubelet's root dir: per node, and gone with it.
    const changed = await writeCniConfig({ confDir: this.config.cniConfDir!, podCIDR, bridge: this.config.cniBridge,
      ipMasq: this.config.cniIpMasq, ipamDataDir: path.join(this.config.rootDir, 'cni', 'networks') });
    if (changed) this.log('wrote CNI config', { podCIDR, dir: this.config.cniConfDir });
  }

  /** A node-ipam controller may assign spec.podCIDR after registration. */
  private async maybeLearnPodCIDR(): Promise<void> {
    if (this.podCIDR || !this.config.cniConfDir) return;
    const node = await this.api.getNode(this.config.nodeName).catch(() => null);
    if (node?.spec?.podCIDR) {
      this.podCIDR = node.spec.podCIDR;
      await this.writeCni(this.podCIDR).catch((err) => this.log('CNI config write failed', { err: (err as Error).message }));
    }
  }

  /** Re-read the manifest directory: add new static pods, drop removed ones, keep mirror pods in the API. */
  async syncStaticPods(): Promise<void> {
    const { pods, errors } = await loadStaticPods(this.config.staticPodPath!, this.config.nodeName);
    for (const e of errors) this.log('bad static pod manifest', { err: e });
    const seen = new Set<string>();
    for (const pod of pods) {
      const uid = pod.metadata!.uid!;
      seen.add(uid);
      if (!this.staticPods.has(uid)) {
        this.staticPods.set(uid, pod);
        this.upsertPod(pod);
      }
      if (!this.mirrors.has(uid)) {
        await this.api.createPod(mirrorPod(pod)).catch((err: Error & { reason?: string }) => {
          if (err.reason !== 'AlreadyExists') this.log('mirror pod create failed', { pod: pod.metadata?.name, err: err.message });
        });
      }
    }
    for (const [uid, pod] of this.staticPods) {
      if (seen.has(uid)) continue;
      this.staticPods.delete(uid);
      this.removePod(pod);
      const mirror = this.mirrors.get(uid);
      if (mirror) await this.api.deletePod(mirror.metadata!.namespace ?? 'default', mirror.metadata!.name!, mirror.metadata!.uid!).catch(() => {});
    }
    if (this.staticTimer) clearTimeout(this.staticTimer);
    this.staticTimer = setTimeout(() => void this.syncStaticPods().catch((err) => this.log('static pods', { err: (err as Error).message })), 20_000);
  }

  upsertPod(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    if (isMirrorPod(pod)) {
      // The API's copy of a static pod: never run it; remember it so a deleted mirror gets recreated.
      this.mirrors.set(pod.metadata!.annotations![ANNOTATION_CONFIG_MIRROR]!, pod);
      return;
    }
    this.desired.set(uid, pod);
    if (this.podsSynced) this.workers.update(uid);
  }

  removePod(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    if (isMirrorPod(pod)) {
      this.mirrors.delete(pod.metadata!.annotations![ANNOTATION_CONFIG_MIRROR]!);
      return;
    }
    this.desired.delete(uid);
    if (this.podsSynced) this.workers.update(uid);
  }

  async stop(): Promise<void> {
    this.stopWatch?.();
    this.pleg.stop();
    this.nodeAgent?.stop();
    this.probes.stop();
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    if (this.staticTimer) clearTimeout(this.staticTimer);
    for (const t of this.wakeups.values()) clearTimeout(t);
    this.wakeups.clear();
    await this.workers.drain();
  }
}
