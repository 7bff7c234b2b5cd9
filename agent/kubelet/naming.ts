// Labels and annotations the kubelet puts on CRI sandboxes and containers (the upstream keys), so that
// a relist can map runtime objects back to pods without any local state.
export const LABEL_POD_NAME = 'io.kubernetes.pod.name';
export const LABEL_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const LABEL_POD_UID = 'io.kubernetes.pod.uid';
export const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';
export const LABEL_MANAGED = 'io.kts.kubelet.managed';
export const ANNOTATION_RESTART_COUNT = 'io.kubernetes.container.restartCount';
export const ANNOTATION_TERMINATION_GRACE = 'io.kubernetes.pod.terminationGracePeriod';
export const ANNOTATION_CONTAINER_KIND = 'io.kts.container.kind';

export const CONTAINER_ID_PREFIX = 'containerd://';

export function podFullName(namespace: string | undefined, name: string | undefined): string {
  return `${name ?? ''}_${namespace ?? ''}`;
}

/** /var/log/pods/<ns>_<name>_<uid>, the upstream layout that log collectors expect. */
export function podLogDir(logRoot: string, namespace: string, name: string, uid: string): string {
  return `${logRoot}/${namespace}_${name}_${uid}`;
}
