// The kubelet's picture of one pod in the runtime, rebuilt from CRI lists (no local bookkeeping):
// sandboxes and containers found by the pod uid label, newest first, with exit details.
import type { ContainerState, PodSandboxState, RuntimeService } from '../cri/types.ts';
import { isNotFound } from '../cri/types.ts';
import { ANNOTATION_CONTAINER_KIND, LABEL_MANAGED, LABEL_POD_UID } from './naming.ts';

export interface RuntimeSandbox { id: string; attempt: number; state: PodSandboxState; createdAt: bigint; ip: string }
export interface RuntimeContainer {
  id: string;
  name: string;
  sandboxId: string;
  attempt: number;
  kind: 'init' | 'app';
  state: ContainerState;
  createdAt: bigint;
  startedAt: bigint;
  finishedAt: bigint;
  exitCode: number;
  reason: string;
  message: string;
  image: string;
  imageRef: string;
  logPath: string;
}
export interface PodRuntime { uid: string; sandboxes: RuntimeSandbox[]; containers: RuntimeContainer[] }

/** ns timestamps from CRI (strings) to ms since epoch; 0 stays 0. */
export function nsToMs(ns: bigint): number {
  return Number(ns / 1_000_000n);
}

/**
 * Reads pods from the runtime, caching per-object status by (id, state) so that a relist only asks
 * ContainerStatus/PodSandboxStatus for what changed.
 */
export class RuntimeInspector {
  private readonly runtime: RuntimeService;
  private containerCache = new Map<string, { state: string; value: RuntimeContainer }>();
  private sandboxCache = new Map<string, { state: string; value: RuntimeSandbox }>();

  constructor(runtime: RuntimeService) {
    this.runtime = runtime;
  }

  /** All pods the kubelet manages, keyed by uid. */
  async relistAll(): Promise<Map<string, PodRuntime>> {
    const [sandboxes, containers] = await Promise.all([
      this.runtime.listPodSandbox({ label_selector: { [LABEL_MANAGED]: 'true' } }),
      this.runtime.listContainers({ label_selector: { [LABEL_MANAGED]: 'true' } }),
    ]);
    return this.assemble(sandboxes, containers, true);
  }

  async inspectPod(uid: string): Promise<PodRuntime> {
    const [sandboxes, containers] = await Promise.all([
      this.runtime.listPodSandbox({ label_selector: { [LABEL_POD_UID]: uid } }),
      this.runtime.listContainers({ label_selector: { [LABEL_POD_UID]: uid } }),
    ]);
    return (await this.assemble(sandboxes, containers)).get(uid) ?? { uid, sandboxes: [], containers: [] };
  }

  private async assemble(
    sandboxes: Awaited<ReturnType<RuntimeService['listPodSandbox']>>,
    containers: Awaited<ReturnType<RuntimeService['listContainers']>>,
    complete = false,
  ): Promise<Map<string, PodRuntime>> {
    const pods = new Map<string, PodRuntime>();
    const pod = (uid: string) => {
      let p = pods.get(uid);
      if (!p) pods.set(uid, (p = { uid, sandboxes: [], containers: [] }));
      return p;
    };
    const seenS = new Set<string>();
    const seenC = new Set<string>();
    await Promise.all(sandboxes.map(async (s) => {
      seenS.add(s.id);
      const uid = s.labels[LABEL_POD_UID] ?? s.metadata.uid;
      const cached = this.sandboxCache.get(s.id);
      let value = cached?.state === s.state ? cached.value : undefined;
      if (!value) {
        let ip = '';
        try {
          ip = (await this.runtime.podSandboxStatus(s.id)).network?.ip ?? '';
        } catch (err) {
          if (!isNotFound(err)) throw err;
          return;
        }
        value = { id: s.id, attempt: s.metadata.attempt, state: s.state, createdAt: BigInt(s.created_at), ip };
        this.sandboxCache.set(s.id, { state: s.state, value });
      }
      pod(uid).sandboxes.push(value);
    }));
    await Promise.all(containers.map(async (c) => {
      seenC.add(c.id);
      const uid = c.labels[LABEL_POD_UID];
      if (!uid) return;
      const cached = this.containerCache.get(c.id);
      let value = cached?.state === c.state ? cached.value : undefined;
      if (!value) {
        let st;
        try {
          st = await this.runtime.containerStatus(c.id);
        } catch (err) {
          if (!isNotFound(err)) throw err;
          return;
        }
        value = {
          id: c.id, name: c.metadata.name, sandboxId: c.pod_sandbox_id, attempt: c.metadata.attempt,
          kind: (c.annotations[ANNOTATION_CONTAINER_KIND] as 'init' | 'app' | undefined) ?? 'app',
          state: st.state, createdAt: BigInt(st.created_at || 0), startedAt: BigInt(st.started_at || 0),
          finishedAt: BigInt(st.finished_at || 0), exitCode: st.exit_code, reason: st.reason, message: st.message,
          image: st.image?.image ?? c.image?.image ?? '', imageRef: st.image_ref || c.image_ref, logPath: st.log_path,
        };
        this.containerCache.set(c.id, { state: st.state, value });
      }
      pod(uid).containers.push(value);
    }));
    // Only a full relist shows what is gone; a one-pod inspect must not evict other pods' entries.
    if (complete) {
      for (const id of this.sandboxCache.keys()) if (!seenS.has(id)) this.sandboxCache.delete(id);
      for (const id of this.containerCache.keys()) if (!seenC.has(id)) this.containerCache.delete(id);
    }
    for (const p of pods.values()) {
      p.sandboxes.sort((a, b) => b.attempt - a.attempt || Number(b.createdAt - a.createdAt));
      p.containers.sort((a, b) => b.attempt - a.attempt || Number(b.createdAt - a.createdAt));
    }
    return pods;
  }
}
