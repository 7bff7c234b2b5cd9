// Container resources to LinuxContainerResources, and the per-QoS cgroup parent of a pod (cgroupfs driver).
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { podQOSClass, type QOSClass } from '../../api/qos.ts';
import { toMilliValue, toValue } from '../../api/quantity.ts';
import type { LinuxContainerResources } from '../cri/types.ts';

export const CPU_PERIOD_US = 100_000;
const MIN_SHARES = 2;
const MAX_SHARES = 262_144;
const MIN_QUOTA_US = 1_000;

function quantity(map: Record<string, string> | undefined, name: string, fn: (q: string) => number): number | undefined {
  const raw = map?.[name];
  if (raw === undefined || raw === null || raw === '') return undefined;
  try {
    return fn(String(raw));
  } catch {
    throw new Error(`invalid ${name} quantity "${raw}"`);
  }
}

/** cpu request (or limit when unset) -> shares; cpu limit -> quota over a 100 ms period; memory limit -> bytes. */
export function linuxResources(container: V1Container, qos: QOSClass, nodeMemoryBytes: number): LinuxContainerResources {
  const req = container.resources?.requests;
  const lim = container.resources?.limits;
  const cpuReq = quantity(req, 'cpu', toMilliValue) ?? quantity(lim, 'cpu', toMilliValue);
  const cpuLim = quantity(lim, 'cpu', toMilliValue);
  const memLim = quantity(lim, 'memory', toValue);
  const memReq = quantity(req, 'memory', toValue) ?? memLim;
  const out: LinuxContainerResources = {};
  out.cpu_shares = cpuReq === undefined ? MIN_SHARES : Math.min(MAX_SHARES, Math.max(MIN_SHARES, Math.floor((cpuReq * 1024) / 1000)));
  if (cpuLim !== undefined) {
    out.cpu_period = CPU_PERIOD_US;
    out.cpu_quota = Math.max(MIN_QUOTA_US, Math.floor((cpuLim * CPU_PERIOD_US) / 1000));
  }
  if (memLim !== undefined) out.memory_limit_in_bytes = Math.floor(memLim);
  out.oom_score_adj = oomScoreAdj(qos, memReq, nodeMemoryBytes);
  return out;
}

/** Upstream policy; the runtime may clamp negative values when it lacks CAP_SYS_RESOURCE. */
export function oomScoreAdj(qos: QOSClass, memoryRequest: number | undefined, nodeMemoryBytes: number): number {
  if (qos === 'Guaranteed') return -997;
  if (qos === 'BestEffort') return 1000;
  const adj = 1000 - Math.floor((1000 * (memoryRequest ?? 0)) / Math.max(1, nodeMemoryBytes));
  return Math.min(999, Math.max(2, adj));
}

/** <cgroupRoot>/kubepods[/burstable|/besteffort]/pod<uid>. */
export function podCgroupParent(cgroupRoot: string, pod: V1Pod): string {
  const root = cgroupRoot === '/' ? '' : cgroupRoot.replace(/\/$/, '');
  const qos = podQOSClass(pod);
  const tier = qos === 'Guaranteed' ? '' : `/${qos.toLowerCase()}`;
  return `${root}/kubepods${tier}/pod${pod.metadata?.uid ?? ''}`;
}
