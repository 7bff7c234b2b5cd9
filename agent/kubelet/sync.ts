// syncPod: drive the runtime towards one pod's spec, one step per call (the pod worker calls it again on
// every change): sandbox, volumes, init containers in order, app containers by restart policy with
// back-off, liveness kills, graceful termination and final removal. Then compute and report status.
import type { V1Container, V1LifecycleHandler, V1Pod } from '@kubernetes/client-node';
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import type { Image, PodSandboxConfig, RuntimeService } from '../cri/types.ts';
import { isNotFound } from '../cri/types.ts';
import type { ProbeManager } from '../probes/manager.ts';
import { resolvePort } from '../probes/checkers.ts';
import type { KubeletApi } from './api.ts';
import { Backoff } from './backoff.ts';
import { Limiter } from './limiter.ts';
import { ConfigError, resolveEnv } from './env.ts';
import type { EventRecorder } from './events.ts';
import { podFullName } from './naming.ts';
import { containerConfig, sandboxConfig } from './pod-config.ts';
import { nsToMs, type PodRuntime, type RuntimeContainer, type RuntimeInspector, type RuntimeSandbox } from './runtime-state.ts';
import { computePodStatus, type WaitingNote } from './status.ts';
import type { StatusManager } from './status-manager.ts';
import { cleanupPodDir, prepareVolumes, type PreparedVolume } from './volumes.ts';

export interface SyncConfig {
  nodeName: string;
  hostIP: string;
  rootDir: string;
  logRoot: string;
  cgroupRoot: string;
  clusterDNS: string[];
  clusterDomain: string;
  nodeMemoryBytes: number;
}

export interface SyncDeps {
  runtime: RuntimeService;
  inspector: RuntimeInspector;
  api: KubeletApi;
  probes: ProbeManager;
  status: StatusManager;
  events: EventRecorder;
  config: SyncConfig;
  /** Ask for another sync of the pod at (or after) the given time. */
  resyncAt: (uid: string, atMs: number) => void;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  now?: () => number;
  restartBackoff?: Backoff;
  pullBackoff?: Backoff;
  /**
   * How many pod sandboxes may be created at once (default 4). Sandbox creation (netns, CNI, pause container)
   * is the costly step: on 2 cores a burst of 30 finishes in 5.5 s with 4 at a time and 8.9 s with no limit.
   * Paced at 5 pods/s on a quiet machine the limit never binds; on one loaded by other work it queues pods
   * here, where no CRI timing shows it (agent/kubelet/README.md, "Pod startup").
   */
  sandboxParallelism?: number;
}

interface PodState {
  waiting: Map<string, WaitingNote>;
  podMessage?: { reason: string; message: string };
  /** Containers a liveness/startup failure asked to restart: id -> message. */
  unhealthy: Map<string, string>;
  sandboxConfig?: PodSandboxConfig;
  /** ImageStatus answers started early in this sync (while the sandbox is made), by image. */
  imagePresence?: Map<string, Promise<Image | null>>;
  /** Whether this sync changed anything in the runtime (if not, the relist it started from is still current). */
  mutated: boolean;
}

const DEFAULT_GRACE_SECONDS = 30;

export class PodSyncer {
  private readonly d: SyncDeps;
  private readonly states = new Map<string, PodState>();
  readonly restartBackoff: Backoff;
  readonly pullBackoff: Backoff;
  private readonly now: () => number;
  private readonly sandboxLimiter: Limiter;
  private readonly tokens = new Map<string, { token: string; renewAt: number }>();
  private readonly backoffEvents = new Map<string, number>();

  constructor(deps: SyncDeps) {
    this.d = deps;
    this.now = deps.now ?? Date.now;
    this.restartBackoff = deps.restartBackoff ?? new Backoff();
    this.pullBackoff = deps.pullBackoff ?? new Backoff();
    this.sandboxLimiter = new Limiter(deps.sandboxParallelism ?? 4);
  }

  private state(uid: string): PodState {
    let s = this.states.get(uid);
    if (!s) this.states.set(uid, (s = { waiting: new Map(), unhealthy: new Map(), mutated: false }));
    return s;
  }

  /** A liveness or startup probe failed: the next sync kills and restarts the container. */
  markUnhealthy(uid: string, containerId: string, message: string): void {
    this.state(uid).unhealthy.set(containerId, message);
  }

  /** One step for the pod; `pod` undefined means it is gone from the API and only runtime leftovers remain. */
  async sync(uid: string, pod: V1Pod | undefined): Promise<void> {
    let rt = await this.d.inspector.inspectPod(uid);
    if (!pod) {
      await this.killPod(undefined, rt, 0);
      await this.removePod(uid, rt);
      return;
    }
    if (pod.metadata?.deletionTimestamp) {
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
      await this.killPod(pod, rt, grace);
      rt = await this.d.inspector.inspectPod(uid);
      this.report(pod, rt);
      await this.removePod(uid, rt);
      await this.d.api.deletePod(pod.metadata.namespace ?? 'default', pod.metadata.name ?? '', uid);
      return;
    }
    const prevPhase = this.d.status.last(uid)?.phase ?? pod.status?.phase;
    if (prevPhase === 'Succeeded' || prevPhase === 'Failed') {
      await this.stopSandboxes(rt);
      this.report(pod, await this.d.inspector.inspectPod(uid));
      return;
    }

    const st = this.state(uid);
    st.waiting = new Map();
    st.podMessage = undefined;
    st.mutated = false;
    st.imagePresence = undefined;
    try {
      await this.step(pod, rt, st);
    } finally {
      if (st.mutated) rt = await this.d.inspector.inspectPod(uid);
      // Probe workers first, so that a container with a readiness probe is not reported ready before its first result.
      this.syncProbes(pod, rt);
      const status = this.report(pod, rt);
      if (status.phase === 'Succeeded' || status.phase === 'Failed') await this.stopSandboxes(rt);
    }
  }

  private report(pod: V1Pod, rt: PodRuntime) {
    const uid = pod.metadata?.uid ?? '';
    const st = this.state(uid);
    const status = computePodStatus({
      pod, runtime: rt, waiting: st.waiting, hostIP: this.d.config.hostIP, nowMs: this.now(),
      ready: (name, id) => this.d.probes.isReady(uid, name, id),
      started: (name, id) => this.d.probes.isStarted(uid, name, id),
      previous: this.d.status.last(uid) ?? pod.status,
      podMessage: st.podMessage,
    });
    this.d.status.set(pod, status);
    return status;
  }

  private syncProbes(pod: V1Pod, rt: PodRuntime): void {
    const sandbox = rt.sandboxes.find((s) => s.state === 'SANDBOX_READY');
    if (!sandbox) return;
    const running = rt.containers.filter((c) => c.sandboxId === sandbox.id && c.kind === 'app' && c.state === 'CONTAINER_RUNNING')
      .map((c) => ({ name: c.name, id: c.id, startedAtMs: nsToMs(c.startedAt) }));
    this.d.probes.syncPod(pod, running, pod.spec?.hostNetwork ? this.d.config.hostIP : sandbox.ip);
  }

  private async step(pod: V1Pod, rt: PodRuntime, st: PodState): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    const policy = pod.spec?.restartPolicy ?? 'Always';

    // 1. Sandbox.
    let sandbox = rt.sandboxes.find((s) => s.state === 'SANDBOX_READY');
    if (!sandbox) {
      const everRan = rt.containers.some((c) => c.kind === 'app');
      if (everRan && policy === 'Never') return; // nothing will run again
      // Containers left in a dead sandbox are stopped before a fresh one is made.
      st.mutated = true;
      await this.killPod(pod, rt, 0);
      const attempt = rt.sandboxes.length ? rt.sandboxes[0]!.attempt + 1 : 0;
      const cfg = sandboxConfig(pod, { logRoot: this.d.config.logRoot, cgroupRoot: this.d.config.cgroupRoot,
        clusterDNS: this.d.config.clusterDNS, clusterDomain: this.d.config.clusterDomain, attempt });
      await mkdir(cfg.log_directory!, { recursive: true });
      // The image checks do not depend on the sandbox: ask them now, so they are answered when containers start.
      st.imagePresence = this.prefetchImageStatus(pod);
      let id: string;
      try {
        id = await this.sandboxLimiter.run(() => this.d.runtime.runPodSandbox(cfg));
      } catch (err) {
        const message = `Failed to create pod sandbox: ${(err as Error).message}`;
        st.podMessage = { reason: 'FailedCreatePodSandBox', message };
        this.d.events.pod(pod, 'Warning', 'FailedCreatePodSandBox', message);
        this.d.resyncAt(uid, this.now() + 5_000);
        return;
      }
      st.sandboxConfig = cfg;
      const sbStatus = await this.d.runtime.podSandboxStatus(id);
      sandbox = { id, attempt, state: sbStatus.state, createdAt: BigInt(sbStatus.created_at || 0), ip: sbStatus.network?.ip ?? '' };
      rt = { ...rt, sandboxes: [sandbox, ...rt.sandboxes] };
      if (sandbox.state !== 'SANDBOX_READY') return;
    }
    if (!st.sandboxConfig || st.sandboxConfig.metadata.attempt !== sandbox.attempt) {
      st.sandboxConfig = sandboxConfig(pod, { logRoot: this.d.config.logRoot, cgroupRoot: this.d.config.cgroupRoot,
        clusterDNS: this.d.config.clusterDNS, clusterDomain: this.d.config.clusterDomain, attempt: sandbox.attempt });
    }
    const podIP = pod.spec?.hostNetwork ? this.d.config.hostIP : sandbox.ip;

    // 2. Volumes (rewritten each sync so configMap and secret changes arrive).
    let volumes: Map<string, PreparedVolume>;
    try {
      volumes = await prepareVolumes(pod, { rootDir: this.d.config.rootDir, api: this.d.api, podIP, hostIP: this.d.config.hostIP,
        nodeName: this.d.config.nodeName,
        serviceAccountToken: (p, audience, expirationSeconds) => this.token(p, audience, expirationSeconds) });
    } catch (err) {
      const message = `MountVolume.SetUp failed: ${(err as Error).message}`;
      for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
        st.waiting.set(c.name, { reason: 'ContainerCreating', message });
      }
      this.d.events.pod(pod, 'Warning', 'FailedMount', message);
      this.d.resyncAt(uid, this.now() + 10_000);
      return;
    }
    const ctx = { pod, sandbox, podIP, volumes, st, rt };

    // 3. Init containers, one at a time, in order.
    for (const c of pod.spec?.initContainers ?? []) {
      const inst = rt.containers.filter((x) => x.name === c.name && x.kind === 'init');
      const cur = inst.find((x) => x.sandboxId === sandbox.id);
      if (cur?.state === 'CONTAINER_EXITED' && cur.exitCode === 0) continue;
      if (cur?.state === 'CONTAINER_RUNNING' || cur?.state === 'CONTAINER_CREATED') return;
      if (cur?.state === 'CONTAINER_EXITED') {
        if (policy === 'Never') return; // the pod has failed
        if (!this.mayRestart(pod, c, cur, st)) return;
      }
      await this.startContainer(ctx, c, 'init', nextAttempt(inst));
      return;
    }

    // 4. App containers.
    for (const c of pod.spec?.containers ?? []) {
      const inst = rt.containers.filter((x) => x.name === c.name && x.kind === 'app');
      let cur: RuntimeContainer | undefined = inst.find((x) => x.sandboxId === sandbox.id);
      if (cur?.state === 'CONTAINER_RUNNING') {
        const why = st.unhealthy.get(cur.id);
        if (why === undefined) continue;
        st.unhealthy.delete(cur.id);
        st.mutated = true;
        this.d.events.pod(pod, 'Normal', 'Killing', `Container ${c.name} failed liveness probe, will be restarted`, `spec.containers{${c.name}}`);
        await this.killContainer(pod, c, cur.id, pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS);
        cur = { ...cur, state: 'CONTAINER_EXITED', exitCode: 137, finishedAt: BigInt(this.now()) * 1_000_000n };
      }
      if (cur?.state === 'CONTAINER_CREATED') {
        st.mutated = true;
        await this.d.runtime.removeContainer(cur.id).catch(() => {});
        cur = undefined;
      }
      const last = cur ?? inst[0];
      if (last && last.state === 'CONTAINER_EXITED') {
        const restart = policy === 'Always' || (policy === 'OnFailure' && last.exitCode !== 0);
        if (!restart) continue;
        if (!this.mayRestart(pod, c, last, st)) continue;
      }
      await this.startContainer(ctx, c, 'app', nextAttempt(inst));
    }
    if (await this.pruneDeadContainers(rt)) st.mutated = true;
  }

  /** Projected tokens are cached and renewed after 80% of their lifetime, not fetched on every sync. */
  private async token(pod: V1Pod, audience: string | undefined, expirationSeconds: number): Promise<string> {
    const uid = pod.metadata?.uid ?? '';
    const key = `${uid}/${audience ?? ''}/${expirationSeconds}`;
    const cached = this.tokens.get(key);
    if (cached && this.now() < cached.renewAt) return cached.token;
    const token = await this.d.api.requestServiceAccountToken(pod.metadata?.namespace ?? 'default', pod.spec?.serviceAccountName ?? 'default',
      { audiences: audience ? [audience] : [], expirationSeconds, podName: pod.metadata?.name ?? '', podUid: uid });
    this.tokens.set(key, { token, renewAt: this.now() + expirationSeconds * 800 });
    return token;
  }

  /** Back-off between restarts: 10 s doubling to 5 min. Returns false (and notes CrashLoopBackOff) while waiting. */
  private mayRestart(pod: V1Pod, c: V1Container, last: RuntimeContainer, st: PodState): boolean {
    const uid = pod.metadata?.uid ?? '';
    const key = `${uid}/${c.name}`;
    const now = this.now();
    if (this.restartBackoff.inBackoff(key, now)) {
      const delay = this.restartBackoff.delay(key);
      st.waiting.set(c.name, { reason: 'CrashLoopBackOff',
        message: `back-off ${formatDelay(delay)} restarting failed container=${c.name} pod=${podFullName(pod.metadata?.namespace, pod.metadata?.name)}(${uid})` });
      // One BackOff event per back-off window, not one per sync.
      const until = this.restartBackoff.until(key);
      if (this.backoffEvents.get(key) !== until) {
        this.backoffEvents.set(key, until);
        this.d.events.pod(pod, 'Warning', 'BackOff', 'Back-off restarting failed container', `spec.containers{${c.name}}`);
      }
      this.d.resyncAt(uid, this.restartBackoff.until(key));
      return false;
    }
    // A container that ran for a long while before dying starts a fresh back-off.
    if (last.startedAt > 0n && nsToMs(last.finishedAt) - nsToMs(last.startedAt) > 600_000) this.restartBackoff.reset(key);
    this.restartBackoff.next(key, now);
    return true;
  }

  /** ImageStatus for each image the pod's first containers will check (not for pull policy Always). */
  private prefetchImageStatus(pod: V1Pod): Map<string, Promise<Image | null>> {
    const out = new Map<string, Promise<Image | null>>();
    const first = pod.spec?.initContainers?.[0] ? [pod.spec.initContainers[0]] : (pod.spec?.containers ?? []);
    for (const c of first) {
      const image = c.image ?? '';
      if (!image || out.has(image) || imagePullPolicy(c) === 'Always') continue;
      const p = this.d.runtime.imageStatus(image);
      p.catch(() => {}); // a failure is seen (and handled) when ensureImage awaits it
      out.set(image, p);
    }
    return out;
  }

  private async ensureImage(pod: V1Pod, c: V1Container, st: PodState): Promise<boolean> {
    const uid = pod.metadata?.uid ?? '';
    const image = c.image ?? '';
    if (!image) {
      st.waiting.set(c.name, { reason: 'InvalidImageName', message: `container ${c.name} has no image` });
      return false;
    }
    const policy = imagePullPolicy(c);
    const early = st.imagePresence?.get(image);
    st.imagePresence?.delete(image); // an answer is used once: a later container of the same image asks again
    const present = policy === 'Always' ? null : await (early ?? this.d.runtime.imageStatus(image));
    if (present) return true;
    if (policy === 'Never') {
      const message = `Container image "${image}" is not present with pull policy of Never`;
      st.waiting.set(c.name, { reason: 'ErrImageNeverPull', message });
      this.d.events.pod(pod, 'Warning', 'ErrImageNeverPull', message, `spec.containers{${c.name}}`);
      return false;
    }
    const key = `${uid}/${c.name}/pull`;
    if (this.pullBackoff.inBackoff(key, this.now())) {
      st.waiting.set(c.name, { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` });
      this.d.resyncAt(uid, this.pullBackoff.until(key));
      return false;
    }
    try {
      const started = this.now();
      await this.d.runtime.pullImage(image, undefined, this.state(uid).sandboxConfig);
      this.pullBackoff.reset(key);
      this.d.events.pod(pod, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${this.now() - started}ms`, `spec.containers{${c.name}}`);
      return true;
    } catch (err) {
      if (policy === 'Always' && (await this.d.runtime.imageStatus(image).catch(() => null))) return true; // registry down, local copy fine
      const message = `Failed to pull image "${image}": ${(err as Error).message}`;
      st.waiting.set(c.name, { reason: 'ErrImagePull', message });
      this.d.events.pod(pod, 'Warning', 'Failed', message, `spec.containers{${c.name}}`);
      this.pullBackoff.next(key, this.now());
      this.d.resyncAt(uid, this.pullBackoff.until(key));
      return false;
    }
  }

  private async startContainer(
    ctx: { pod: V1Pod; sandbox: RuntimeSandbox; podIP: string; volumes: Map<string, PreparedVolume>; st: PodState },
    c: V1Container, kind: 'init' | 'app', attempt: number,
  ): Promise<void> {
    const { pod, sandbox, st } = ctx;
    const uid = pod.metadata?.uid ?? '';
    st.mutated = true;
    const field = `spec.${kind === 'init' ? 'initContainers' : 'containers'}{${c.name}}`;
    if (!(await this.ensureImage(pod, c, st))) return;
    let cfg;
    try {
      const env = await resolveEnv(pod, c, { podIP: ctx.podIP, hostIP: this.d.config.hostIP, nodeName: this.d.config.nodeName, api: this.d.api });
      cfg = containerConfig(pod, c, { kind, attempt, env, volumes: ctx.volumes, nodeMemoryBytes: this.d.config.nodeMemoryBytes });
    } catch (err) {
      const message = (err as Error).message;
      st.waiting.set(c.name, { reason: err instanceof ConfigError ? 'CreateContainerConfigError' : 'CreateContainerError', message });
      this.d.events.pod(pod, 'Warning', 'Failed', `Error: ${message}`, field);
      this.d.resyncAt(uid, this.now() + 10_000);
      return;
    }
    await mkdir(`${st.sandboxConfig!.log_directory}/${c.name}`, { recursive: true });
    let id: string;
    try {
      id = await this.d.runtime.createContainer(sandbox.id, cfg, st.sandboxConfig!);
    } catch (err) {
      const message = (err as Error).message;
      st.waiting.set(c.name, { reason: 'CreateContainerError', message });
      this.d.events.pod(pod, 'Warning', 'Failed', `Error: ${message}`, field);
      this.d.resyncAt(uid, this.now() + 10_000);
      return;
    }
    this.d.events.pod(pod, 'Normal', 'Created', `Created container ${c.name}`, field);
    try {
      await this.d.runtime.startContainer(id);
    } catch (err) {
      const message = (err as Error).message;
      st.waiting.set(c.name, { reason: 'RunContainerError', message });
      this.d.events.pod(pod, 'Warning', 'Failed', `Error: ${message}`, field);
      const key = `${uid}/${c.name}`;
      if (!this.restartBackoff.inBackoff(key, this.now())) this.restartBackoff.next(key, this.now());
      this.d.resyncAt(uid, this.restartBackoff.until(key));
      return;
    }
    this.d.events.pod(pod, 'Normal', 'Started', `Started container ${c.name}`, field);
  }

  /** preStop (exec or httpGet) within the grace period, then StopContainer with what is left of it. */
  private async killContainer(pod: V1Pod | undefined, c: V1Container | undefined, id: string, graceSeconds: number): Promise<void> {
    const deadline = this.now() + graceSeconds * 1000;
    const preStop = c?.lifecycle?.preStop;
    if (preStop && graceSeconds > 0) {
      await this.runHook(preStop, id, pod, c!, graceSeconds).catch((err: Error) => {
        if (pod) this.d.events.pod(pod, 'Warning', 'FailedPreStopHook', `PreStopHook failed: ${err.message}`);
      });
    }
    const left = Math.max(0, Math.ceil((deadline - this.now()) / 1000));
    try {
      await this.d.runtime.stopContainer(id, Math.max(graceSeconds > 0 ? 2 : 0, left));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private async runHook(h: V1LifecycleHandler, id: string, pod: V1Pod | undefined, c: V1Container, graceSeconds: number): Promise<void> {
    if (h.exec?.command?.length) {
      const res = await this.d.runtime.execSync(id, h.exec.command, graceSeconds);
      if (res.exit_code !== 0) throw new Error(`command ${JSON.stringify(h.exec.command)} exited with ${res.exit_code}`);
    } else if (h.httpGet) {
      const host = h.httpGet.host || pod?.status?.podIP || '';
      const port = resolvePort(h.httpGet.port as number | string, c);
      await new Promise<void>((resolve, reject) => {
        const req = http.get({ host, port, path: h.httpGet!.path ?? '/', timeout: graceSeconds * 1000 }, (res) => {
          res.resume();
          resolve();
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
      });
    } else if (h.sleep) {
      await new Promise((r) => setTimeout(r, Math.min(h.sleep!.seconds, graceSeconds) * 1000));
    }
  }

  /** Stop every running container of the pod (in parallel, each with its preStop), then its sandboxes. */
  async killPod(pod: V1Pod | undefined, rt: PodRuntime, graceSeconds: number): Promise<void> {
    const running = rt.containers.filter((c) => c.state === 'CONTAINER_RUNNING' || c.state === 'CONTAINER_CREATED');
    const spec = (name: string) => [...(pod?.spec?.containers ?? []), ...(pod?.spec?.initContainers ?? [])].find((c) => c.name === name);
    await Promise.all(running.map(async (c) => {
      if (pod) this.d.events.pod(pod, 'Normal', 'Killing', `Stopping container ${c.name}`, `spec.containers{${c.name}}`);
      await this.killContainer(pod, spec(c.name), c.id, graceSeconds);
    }));
    if (pod?.metadata?.deletionTimestamp || !pod) await this.stopSandboxes(rt);
  }

  private async stopSandboxes(rt: PodRuntime): Promise<void> {
    for (const c of rt.containers) {
      if (c.state === 'CONTAINER_RUNNING') await this.d.runtime.stopContainer(c.id, 0).catch(() => {});
    }
    for (const s of rt.sandboxes) {
      if (s.state === 'SANDBOX_READY') await this.d.runtime.stopPodSandbox(s.id);
    }
  }

  /** Remove every runtime object and local file of the pod and forget it. */
  async removePod(uid: string, rt: PodRuntime): Promise<void> {
    for (const c of rt.containers) await this.d.runtime.removeContainer(c.id).catch((e) => { if (!isNotFound(e)) throw e; });
    for (const s of rt.sandboxes) {
      await this.d.runtime.stopPodSandbox(s.id).catch((e) => { if (!isNotFound(e)) throw e; });
      await this.d.runtime.removePodSandbox(s.id).catch((e) => { if (!isNotFound(e)) throw e; });
    }
    await cleanupPodDir(this.d.config.rootDir, uid);
    this.d.probes.removePod(uid);
    this.restartBackoff.forgetPrefix(`${uid}/`);
    this.pullBackoff.forgetPrefix(`${uid}/`);
    this.states.delete(uid);
    this.d.status.forget(uid);
    for (const k of this.tokens.keys()) if (k.startsWith(`${uid}/`)) this.tokens.delete(k);
    for (const k of this.backoffEvents.keys()) if (k.startsWith(`${uid}/`)) this.backoffEvents.delete(k);
  }

  /** Keep the newest two instances of each container (the current one and the previous for logs). */
  private async pruneDeadContainers(rt: PodRuntime): Promise<boolean> {
    let removed = false;
    const seen = new Map<string, number>();
    for (const c of rt.containers) {
      const k = `${c.kind}/${c.name}`;
      const n = (seen.get(k) ?? 0) + 1;
      seen.set(k, n);
      if (n > 2 && c.state === 'CONTAINER_EXITED') {
        removed = true;
        await this.d.runtime.removeContainer(c.id).catch(() => {});
      }
    }
    return removed;
  }
}

/** The container's pull policy, defaulted as upstream: Always for :latest or untagged images. */
function imagePullPolicy(c: V1Container): string {
  const image = c.image ?? '';
  return c.imagePullPolicy ?? (/:latest$/.test(image) || !/:[^/]+$/.test(image.replace(/@.*$/, '')) ? 'Always' : 'IfNotPresent');
}

function nextAttempt(instances: RuntimeContainer[]): number {
  return instances.length ? Math.max(...instances.map((c) => c.attempt)) + 1 : 0;
}

function formatDelay(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : '0s'}` : `${s}s`;
}
