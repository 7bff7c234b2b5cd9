// core/v1 pods: upstream defaults, QoS class, spec immutability after creation, the kubectl table.
import { cause, type Cause } from '../../../api/errors.ts';
import { podQOSClass } from '../../../api/qos.ts';
import { ageColumn, ageOf, col, defaultPodSpec, isObject, nameColumn, validatePodSpec } from './common.ts';
import type { Obj, Strategy } from './types.ts';

/** The STATUS column, following upstream printPod: phase, then reasons from init and app containers, Terminating. */
export function podStatusReason(pod: Obj): string {
  const status = pod?.status ?? {};
  let reason: string = status.reason || status.phase || 'Pending';
  const initStatuses = Array.isArray(status.initContainerStatuses) ? status.initContainerStatuses : [];
  let initializing = false;
  initStatuses.forEach((c: Obj, i: number) => {
    if (initializing) return;
    const term = c?.state?.terminated;
    if (term && term.exitCode === 0) return;
    if (term) {
      reason = term.reason ? `Init:${term.reason}` : term.signal ? `Init:Signal:${term.signal}` : `Init:ExitCode:${term.exitCode}`;
      initializing = true;
    } else if (c?.state?.waiting?.reason && c.state.waiting.reason !== 'PodInitializing') {
      reason = `Init:${c.state.waiting.reason}`;
      initializing = true;
    } else {
      reason = `Init:${i}/${(pod?.spec?.initContainers ?? []).length}`;
      initializing = true;
    }
  });
  if (!initializing) {
    let hasRunning = false;
    const cs = Array.isArray(status.containerStatuses) ? [...status.containerStatuses].reverse() : [];
    for (const c of cs) {
      const st = c?.state ?? {};
      if (st.waiting?.reason) reason = st.waiting.reason;
      else if (st.terminated?.reason) reason = st.terminated.reason;
      else if (st.terminated) reason = st.terminated.signal ? `Signal:${st.terminated.signal}` : `ExitCode:${st.terminated.exitCode}`;
      else if (st.running && c.ready) hasRunning = true;
    }
    if (reason === 'Completed' && hasRunning) reason = 'Running';
  }
  if (pod?.metadata?.deletionTimestamp) reason = status.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return reason;
}

function podCells(pod: Obj, now: number): unknown[] {
  const cs = Array.isArray(pod?.status?.containerStatuses) ? pod.status.containerStatuses : [];
  const total = Array.isArray(pod?.spec?.containers) ? pod.spec.containers.length : 0;
  const ready = cs.filter((c: Obj) => c?.ready).length;
  const restarts = cs.reduce((n: number, c: Obj) => n + (Number(c?.restartCount) || 0), 0);
  const gates = Array.isArray(pod?.spec?.readinessGates) ? pod.spec.readinessGates : [];
  const conds = Array.isArray(pod?.status?.conditions) ? pod.status.conditions : [];
  const gatesCell = gates.length
    ? `${gates.filter((g: Obj) => conds.some((c: Obj) => c?.type === g?.conditionType && c?.status === 'True')).length}/${gates.length}`
    : '<none>';
  return [pod?.metadata?.name, `${ready}/${total}`, podStatusReason(pod), restarts, ageOf(pod, now),
    pod?.status?.podIP || '<none>', pod?.spec?.nodeName || '<none>', pod?.status?.nominatedNodeName || '<none>', gatesCell];
}

// Defaults the DefaultTolerationSeconds admission plugin adds, so pods survive short node hiccups.
const defaultTolerations = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];

// Fields of a pod spec that may change after creation (upstream ValidatePodUpdate).
function mutableSpecView(spec: Obj): string {
  if (!isObject(spec)) return JSON.stringify(spec);
  const copy = structuredClone(spec) as Obj;
  for (const list of [copy.containers, copy.initContainers]) if (Array.isArray(list)) for (const c of list) if (isObject(c)) delete c.image;
  delete copy.activeDeadlineSeconds;
  delete copy.tolerations;
  delete copy.terminationGracePeriodSeconds;
  delete copy.schedulingGates;
  return JSON.stringify(copy);
}

export const pods: Strategy = {
  group: '', version: 'v1', kind: 'Pod', resource: 'pods', singular: 'pod', namespaced: true,
  shortNames: ['po'], categories: ['all'], hasStatus: true,
  extraSubresources: [
    { name: 'binding', kind: 'Binding', verbs: ['create'] },
    { name: 'eviction', kind: 'Eviction', group: 'policy', version: 'v1', verbs: ['create'] },
    { name: 'log', kind: 'Pod', verbs: ['get'] },
    { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
    { name: 'attach', kind: 'PodAttachOptions', verbs: ['create', 'get'] },
    { name: 'portforward', kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
  ],
  defaults(pod) {
    if (!isObject(pod.spec)) return;
    defaultPodSpec(pod.spec);
    pod.spec.serviceAccountName ??= 'default';
    pod.spec.serviceAccount ??= pod.spec.serviceAccountName;
    pod.spec.priority ??= 0;
  },
  prepareForCreate(pod) {
    if (isObject(pod.spec)) {
      const tol = Array.isArray(pod.spec.tolerations) ? pod.spec.tolerations : [];
      for (const d of defaultTolerations) {
        if (!tol.some((t: Obj) => t?.key === d.key && (t?.effect === d.effect || !t?.effect))) tol.push({ ...d });
      }
      pod.spec.tolerations = tol;
    }
    let qos = 'BestEffort';
    try { qos = podQOSClass(pod); } catch { /* bad quantities are reported by validate */ }
    pod.status = { phase: 'Pending', qosClass: qos };
  },
  prepareForUpdate(pod, old) {
    if (old?.status?.qosClass && isObject(pod.status)) pod.status.qosClass = old.status.qosClass;
  },
  validate(pod, old) {
    const out: Cause[] = validatePodSpec(pod.spec, 'spec');
    if (old && isObject(pod.spec) && isObject(old.spec) && mutableSpecView(pod.spec) !== mutableSpecView(old.spec)) {
      // nodeName is set by binding, not by updates
      out.push(cause.forbidden('spec', 'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)'));
    }
    return out;
  },
  fieldLabels(pod) {
    return {
      'spec.nodeName': pod?.spec?.nodeName ?? '',
      'spec.restartPolicy': pod?.spec?.restartPolicy ?? '',
      'spec.schedulerName': pod?.spec?.schedulerName ?? '',
      'spec.serviceAccountName': pod?.spec?.serviceAccountName ?? '',
      'spec.hostNetwork': String(Boolean(pod?.spec?.hostNetwork)),
      'status.phase': pod?.status?.phase ?? '',
      'status.podIP': pod?.status?.podIP ?? '',
      'status.nominatedNodeName': pod?.status?.nominatedNodeName ?? '',
    };
  },
  table: {
    columns: [nameColumn, col('Ready', 'string', 0, 'The aggregate readiness state of this pod for accepting traffic.'),
      col('Status', 'string', 0, 'The aggregate status of the containers in this pod.'),
      col('Restarts', 'string', 0, 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
      ageColumn, col('IP', 'string', 1, 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.'),
      col('Node', 'string', 1, 'NodeName is a request to schedule this pod onto a specific node.'),
      col('Nominated Node', 'string', 1, 'nominatedNodeName is set only when this pod preempts other pods on the node.'),
      col('Readiness Gates', 'string', 1, 'If specified, all readiness gates will be evaluated for pod readiness.')],
    cells: podCells,
  },
};
