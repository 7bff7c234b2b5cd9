// Shared fixtures for kubelet unit tests: a PodSyncer over the fake runtime and fake API, with a hand-driven clock.
import type { V1Pod } from '@kubernetes/client-node';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeRuntime, type FakeRuntimeOptions } from '../../../agent/cri/fake.ts';
import { EventRecorder } from '../../../agent/kubelet/events.ts';
import { FakeKubeletApi } from '../../../agent/kubelet/fake-api.ts';
import { RuntimeInspector } from '../../../agent/kubelet/runtime-state.ts';
import { StatusManager } from '../../../agent/kubelet/status-manager.ts';
import { PodSyncer } from '../../../agent/kubelet/sync.ts';
import { ProbeManager } from '../../../agent/probes/manager.ts';

export function makePod(name: string, spec: Partial<V1Pod['spec']> = {}, meta: Partial<V1Pod['metadata']> = {}): V1Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, ...meta },
    spec: { nodeName: 'n1', containers: [{ name: 'app', image: 'busybox:1', command: ['sleep', '1000'] }], ...spec },
  };
}

export function harness(t: { teardown(fn: () => void): void }, rtOpts: FakeRuntimeOptions = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kts-kubelet-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const runtime = new FakeRuntime({ images: ['busybox:1'], ...rtOpts });
  const api = new FakeKubeletApi();
  const clock = { ms: 1_000_000 };
  const wakeups: { uid: string; at: number }[] = [];
  const status = new StatusManager(api, () => {});
  const probes = new ProbeManager({ runtime, onUnhealthy: () => {}, onResult: () => {} });
  t.teardown(() => probes.stop());
  const syncer = new PodSyncer({
    runtime, inspector: new RuntimeInspector(runtime), api, probes, status,
    events: new EventRecorder(api, 'n1'),
    config: { nodeName: 'n1', hostIP: '192.0.2.10', rootDir: path.join(dir, 'root'), logRoot: path.join(dir, 'logs'),
      cgroupRoot: '/kts', clusterDNS: ['10.96.0.10'], clusterDomain: 'cluster.local', nodeMemoryBytes: 8 << 30 },
    resyncAt: (uid, at) => wakeups.push({ uid, at }),
    log: () => {},
    now: () => clock.ms,
  });
  /** Run sync and let the status manager's async write land. */
  const sync = async (pod: V1Pod | undefined, uid = pod?.metadata?.uid ?? '') => {
    await syncer.sync(uid, pod);
    await new Promise((r) => setImmediate(r));
  };
  return { dir, runtime, api, clock, wakeups, status, probes, syncer, sync };
}
