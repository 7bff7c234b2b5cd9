// Pod status from the spec, the runtime's view and the kubelet's own notes (why a container waits,
// probe results): phase, conditions, container statuses, IPs and QoS class. Pure, so it is unit tested.
import type { V1Container, V1ContainerStatus, V1Pod, V1PodCondition, V1PodStatus } from '@kubernetes/client-node';
import { rfc3339 } from '../../api/meta.ts';
import { podQOSClass } from '../../api/qos.ts';
import { CONTAINER_ID_PREFIX } from './naming.ts';
import { nsToMs, type PodRuntime, type RuntimeContainer } from './runtime-state.ts';

export interface WaitingNote { reason: string; message: string }

export interface StatusInputs {
  pod: V1Pod;
  runtime: PodRuntime;
  /** Why a container is not running (ContainerCreating, ErrImagePull, CrashLoopBackOff, ...), by container name. */
  waiting: Map<string, WaitingNote>;
  /** Readiness probe result for a running container (true when it has no readiness probe). */
  ready: (name: string, containerId: string) => boolean;
  /** Startup probe result (true when it has no startup probe). */
  started: (name: string, containerId: string) => boolean;
  hostIP: string;
  nowMs: number;
  previous?: V1PodStatus;
  /** A pod-level note (e.g. sandbox creation failure) shown in the status message. */
  podMessage?: { reason: string; message: string };
}

const asTime = (ms: number) => rfc3339(ms) as unknown as Date;

function terminated(c: RuntimeContainer) {
  return {
    exitCode: c.exitCode,
    reason: c.reason || (c.exitCode === 0 ? 'Completed' : 'Error'),
    ...(c.message ? { message: c.message } : {}),
    startedAt: c.startedAt > 0n ? asTime(nsToMs(c.startedAt)) : undefined,
    finishedAt: asTime(nsToMs(c.finishedAt > 0n ? c.finishedAt : c.createdAt)),
    containerID: CONTAINER_ID_PREFIX + c.id,
  };
}

/** Instances of one container in the current sandbox, newest first (restart counts span sandboxes). */
function instances(runtime: PodRuntime, name: string, kind: 'init' | 'app'): RuntimeContainer[] {
  return runtime.containers.filter((c) => c.name === name && c.kind === kind);
}

export function containerStatus(
  c: V1Container, kind: 'init' | 'app', inputs: StatusInputs, currentSandbox: string | undefined,
): V1ContainerStatus {
  const all = instances(inputs.runtime, c.name, kind);
  const latest = all[0];
  const current = latest && latest.sandboxId === currentSandbox ? latest : undefined;
  const previous = current ? all[1] : latest;
  const restartCount = latest?.attempt ?? 0;
  const status: V1ContainerStatus = {
    name: c.name,
    image: c.image ?? '',
    imageID: latest?.imageRef ?? '',
    ready: false,
    restartCount,
    started: false,
    state: {},
    lastState: {},
  };
  const note = inputs.waiting.get(c.name);
  if (current && current.state === 'CONTAINER_RUNNING') {
    status.containerID = CONTAINER_ID_PREFIX + current.id;
    status.state = { running: { startedAt: asTime(nsToMs(current.startedAt)) } };
    status.started = inputs.started(c.name, current.id);
    status.ready = kind === 'app' && status.started && inputs.ready(c.name, current.id);
  } else if (current && current.state === 'CONTAINER_EXITED' && !note) {
    status.containerID = CONTAINER_ID_PREFIX + current.id;
    status.state = { terminated: terminated(current) };
  } else {
    status.state = { waiting: note ? { reason: note.reason, ...(note.message ? { message: note.message } : {}) }
      : { reason: kind === 'app' && (inputs.pod.spec?.initContainers?.length ?? 0) > 0 ? 'PodInitializing' : 'ContainerCreating' } };
    if (current && current.state === 'CONTAINER_EXITED') {
      status.containerID = CONTAINER_ID_PREFIX + current.id;
      status.lastState = { terminated: terminated(current) };
    }
  }
  if (!status.lastState?.terminated && previous && previous.state === 'CONTAINER_EXITED' && previous !== current) {
    status.lastState = { terminated: terminated(previous) };
  }
  return status;
}

function condition(type: string, ok: boolean, prev: V1PodStatus | undefined, nowMs: number, reason?: string, message?: string): V1PodCondition {
  const old = prev?.conditions?.find((c) => c.type === type);
  const status = ok ? 'True' : 'False';
  return {
    type, status,
    lastProbeTime: null as unknown as undefined,
    lastTransitionTime: old && old.status === status && old.lastTransitionTime ? old.lastTransitionTime : asTime(nowMs),
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
  };
}

export function podPhase(pod: V1Pod, init: V1ContainerStatus[], app: V1ContainerStatus[]): string {
  const policy = pod.spec?.restartPolicy ?? 'Always';
  for (const s of init) {
    if (s.state?.terminated && s.state.terminated.exitCode !== 0 && policy === 'Never') return 'Failed';
  }
  if (init.some((s) => !(s.state?.terminated && s.state.terminated.exitCode === 0))) {
    // An init container still running or about to run keeps the pod Pending.
    return 'Pending';
  }
  let waiting = 0, running = 0, succeeded = 0, failed = 0;
  for (const s of app) {
    if (s.state?.running) running++;
    else if (s.state?.terminated) (s.state.terminated.exitCode === 0 ? succeeded++ : failed++);
    else if (s.state?.waiting) {
      const last = s.lastState?.terminated;
      if (!last) waiting++;
      else if (policy === 'Always' || (policy === 'OnFailure' && last.exitCode !== 0)) running++; // restarting
      else (last.exitCode === 0 ? succeeded++ : failed++);
    }
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (succeeded + failed === 0) return 'Pending';
  if (policy === 'Always') return 'Running';
  if (policy === 'OnFailure' && failed > 0) return 'Running';
  return failed > 0 ? 'Failed' : 'Succeeded';
}

export function computePodStatus(inputs: StatusInputs): V1PodStatus {
  const { pod, runtime, previous, nowMs } = inputs;
  const sandbox = runtime.sandboxes.find((s) => s.state === 'SANDBOX_READY') ?? runtime.sandboxes[0];
  const currentSandbox = sandbox?.id;
  const init = (pod.spec?.initContainers ?? []).map((c) => containerStatus(c, 'init', inputs, currentSandbox));
  const app = (pod.spec?.containers ?? []).map((c) => containerStatus(c, 'app', inputs, currentSandbox));
  let phase = podPhase(pod, init, app);
  // A terminal phase never goes back (upstream forbids Succeeded/Failed -> Running).
  if (previous?.phase === 'Succeeded' || previous?.phase === 'Failed') phase = previous.phase;

  const initialized = init.every((s) => s.state?.terminated?.exitCode === 0);
  const containersReady = app.length > 0 && app.every((s) => s.ready);
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const notReady = app.filter((s) => !s.ready).map((s) => s.name);
  const readyReason = terminal ? 'PodCompleted' : containersReady ? undefined : 'ContainersNotReady';
  const readyMessage = !terminal && !containersReady ? `containers with unready status: [${notReady.join(' ')}]` : undefined;
  const uninit = init.filter((s) => s.state?.terminated?.exitCode !== 0).map((s) => s.name);
  const conditions: V1PodCondition[] = [
    condition('Initialized', initialized, previous, nowMs, initialized ? undefined : 'ContainersNotInitialized',
      initialized ? undefined : `containers with incomplete status: [${uninit.join(' ')}]`),
    condition('Ready', containersReady && !terminal, previous, nowMs, readyReason, readyMessage),
    condition('ContainersReady', containersReady && !terminal, previous, nowMs, readyReason, readyMessage),
    condition('PodScheduled', true, previous, nowMs),
  ];

  const ip = sandbox?.state === 'SANDBOX_READY' && sandbox.ip ? sandbox.ip
    : pod.spec?.hostNetwork ? inputs.hostIP : previous?.podIP ?? '';
  const podIP = pod.spec?.hostNetwork && sandbox ? inputs.hostIP : ip;
  const status: V1PodStatus = {
    phase,
    conditions,
    hostIP: inputs.hostIP,
    hostIPs: inputs.hostIP ? [{ ip: inputs.hostIP }] : [],
    ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
    startTime: previous?.startTime ?? asTime(nowMs),
    qosClass: podQOSClass(pod),
    containerStatuses: app,
    ...(init.length ? { initContainerStatuses: init } : {}),
  };
  if (inputs.podMessage) {
    status.reason = inputs.podMessage.reason;
    status.message = inputs.podMessage.message;
  }
  return status;
}
