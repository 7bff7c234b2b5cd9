// `kts lab down`: undoes `up` (also a half-finished one) from <dir>/lab.json. Order matters: the
// controller-manager and node agents first so nothing recreates pods, then the pods through CRI (so CNI releases
// addresses), containerd and whatever is left in each node's netns, the control plane, cgroups, routes, netns,
// links, and finally the files.
import { rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { CriClient } from '../agent/cri/client.ts';
import { removeCgroupTree } from './cgroups.ts';
import { nodePaths } from './containerd.ts';
import { netnsPids, removeNetwork } from './network.ts';
import { isAlive, processStartTime, stopProcess } from './process.ts';
import { readState, statePath, type LabProcess } from './state.ts';
import type { Say } from './up.ts';

async function removePods(socket: string, say: Say, node: string): Promise<void> {
  const cri = new CriClient(`unix://${socket}`, { timeoutMs: 30_000 });
  try {
    const sandboxes = await cri.listPodSandbox();
    for (const s of sandboxes) {
      await cri.stopPodSandbox(s.id).catch(() => {});
      await cri.removePodSandbox(s.id).catch(() => {});
    }
    if (sandboxes.length) say(`  ${node}: removed ${sandboxes.length} pod sandbox(es)`);
  } catch { /* the runtime is already gone */ } finally {
    cri.close();
  }
}

/** Returns false when there was no lab in dir. */
export async function labDown(dir: string, say: Say): Promise<boolean> {
  const state = readState(dir);
  if (!state) return false;
  const plan = state.plan;
  const byName = (prefix: string) => state.processes.filter((p) => p.name.startsWith(prefix));
  const stopAll = (ps: LabProcess[], graceMs?: number) => Promise.all(ps.map((p) => stopProcess(p, graceMs)));

  await stopAll([...byName('controller-manager'), ...byName('agent/')]);
  for (const n of plan.nodes) {
    const containerd = state.processes.find((p) => p.name === `containerd/${n.name}`);
    if (containerd && isAlive(containerd)) await removePods(nodePaths(n).socket, say, n.name);
  }
  await stopAll(byName('containerd/'));
  // Shims and any pod processes still in a node's netns (matched by the netns, then stopped by PID).
  for (const n of plan.nodes) {
    for (const pid of await netnsPids(n.netns)) {
      const startTime = processStartTime(pid);
      if (startTime) await stopProcess({ pid, startTime }, 2000);
    }
  }
  await stopAll([...byName('apiserver'), ...byName('etcd')]);
  for (const n of plan.nodes) await removeCgroupTree(n.cgroupRoot);
  await removeNetwork(plan);
  say(`stopped ${state.processes.length} processes; removed ${plan.nodes.length} node namespaces and ${plan.options.bridge}`);
  // Files last, lab.json at the very end: if anything above failed, `down` can run again.
  for (const entry of ['nodes', 'etcd', 'pki', 'images', 'logs', 'admin.kubeconfig', 'lab.json.tmp']) {
    await rm(path.join(dir, entry), { recursive: true, force: true, maxRetries: 3 });
  }
  await rm(statePath(dir), { force: true });
  await rmdir(dir).catch(() => {}); // only when nothing else was put in it
  return true;
}
