// Pod spec to CRI configs: the sandbox (metadata, hostname, DNS, ports, cgroup parent, namespaces) and
// each container (image, command, env, mounts, resources, security context, log path).
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { podQOSClass } from '../../api/qos.ts';
import type { ContainerConfig, LinuxContainerSecurityContext, Mount, PodSandboxConfig, PortMapping } from '../cri/types.ts';
import { ConfigError, expandVars } from './env.ts';
import {
  ANNOTATION_CONTAINER_KIND, ANNOTATION_RESTART_COUNT, ANNOTATION_TERMINATION_GRACE, LABEL_CONTAINER_NAME, LABEL_MANAGED,
  LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID, podLogDir,
} from './naming.ts';
import { linuxResources, podCgroupParent } from './resources.ts';
import type { PreparedVolume } from './volumes.ts';

export interface SandboxOptions {
  logRoot: string;
  cgroupRoot: string;
  clusterDNS: string[];
  clusterDomain: string;
  attempt: number;
}

export function podLabels(pod: V1Pod): Record<string, string> {
  return {
    ...(pod.metadata?.labels ?? {}),
    [LABEL_POD_NAME]: pod.metadata?.name ?? '',
    [LABEL_POD_NAMESPACE]: pod.metadata?.namespace ?? 'default',
    [LABEL_POD_UID]: pod.metadata?.uid ?? '',
    [LABEL_MANAGED]: 'true',
  };
}

function dnsConfig(pod: V1Pod, o: SandboxOptions): PodSandboxConfig['dns_config'] {
  const policy = pod.spec?.dnsPolicy ?? 'ClusterFirst';
  const ns = pod.metadata?.namespace ?? 'default';
  const custom = pod.spec?.dnsConfig;
  let servers: string[] = [];
  let searches: string[] = [];
  let options: string[] = [];
  const clusterFirst = policy === 'ClusterFirst' || (policy === 'ClusterFirstWithHostNet' && pod.spec?.hostNetwork);
  if (clusterFirst && o.clusterDNS.length) {
    servers = [...o.clusterDNS];
    searches = [`${ns}.svc.${o.clusterDomain}`, `svc.${o.clusterDomain}`, o.clusterDomain];
    options = ['ndots:5'];
  } else if (policy === 'None') {
    servers = [];
  } else {
    return undefined; // Default (or no cluster DNS): the runtime copies the node's resolv.conf
  }
  if (custom) {
    servers = [...servers, ...(custom.nameservers ?? [])];
    searches = [...searches, ...(custom.searches ?? [])];
    for (const opt of custom.options ?? []) options.push(opt.value !== undefined ? `${opt.name}:${opt.value}` : opt.name ?? '');
  }
  return { servers, searches, options };
}

function portMappings(pod: V1Pod): PortMapping[] {
  const out: PortMapping[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort) continue;
      out.push({ protocol: (p.protocol ?? 'TCP') as PortMapping['protocol'], container_port: p.containerPort, host_port: p.hostPort, host_ip: p.hostIP ?? '' });
    }
  }
  return out;
}

export function sandboxConfig(pod: V1Pod, o: SandboxOptions): PodSandboxConfig {
  const md = pod.metadata ?? {};
  const hostNetwork = !!pod.spec?.hostNetwork;
  const sc = pod.spec?.securityContext;
  const privileged = (pod.spec?.containers ?? []).some((c) => c.securityContext?.privileged)
    || (pod.spec?.initContainers ?? []).some((c) => c.securityContext?.privileged);
  return {
    metadata: { name: md.name ?? '', uid: md.uid ?? '', namespace: md.namespace ?? 'default', attempt: o.attempt },
    // runc refuses a hostname without a private UTS namespace (linux-host-facts P2).
    hostname: hostNetwork ? '' : (pod.spec?.hostname ?? md.name ?? '').slice(0, 63),
    log_directory: podLogDir(o.logRoot, md.namespace ?? 'default', md.name ?? '', md.uid ?? ''),
    dns_config: dnsConfig(pod, o),
    port_mappings: portMappings(pod),
    labels: podLabels(pod),
    annotations: { ...(md.annotations ?? {}) },
    linux: {
      cgroup_parent: podCgroupParent(o.cgroupRoot, pod),
      security_context: {
        namespace_options: {
          network: hostNetwork ? 'NODE' : 'POD',
          pid: pod.spec?.hostPID ? 'NODE' : pod.spec?.shareProcessNamespace ? 'POD' : 'CONTAINER',
          ipc: pod.spec?.hostIPC ? 'NODE' : 'POD',
        },
        ...(sc?.runAsUser !== undefined ? { run_as_user: { value: sc.runAsUser } } : {}),
        ...(sc?.runAsGroup !== undefined ? { run_as_group: { value: sc.runAsGroup } } : {}),
        supplemental_groups: sc?.supplementalGroups ?? [],
        privileged,
      },
      sysctls: Object.fromEntries((sc?.sysctls ?? []).map((s) => [s.name, s.value])),
    },
  };
}

function containerMounts(container: V1Container, volumes: Map<string, PreparedVolume>): Mount[] {
  const out: Mount[] = [];
  for (const vm of container.volumeMounts ?? []) {
    const vol = volumes.get(vm.name);
    if (!vol) throw new ConfigError(`volumeMount "${vm.name}" of container "${container.name}" names no volume of the pod`);
    let hostPath = vol.hostPath;
    if (vm.subPath) {
      if (vm.subPath.startsWith('/') || vm.subPath.split('/').includes('..')) throw new ConfigError(`invalid subPath "${vm.subPath}"`);
      hostPath = `${hostPath}/${vm.subPath}`;
    }
    out.push({
      container_path: vm.mountPath, host_path: hostPath, readonly: vol.readOnly || !!vm.readOnly,
      propagation: vm.mountPropagation === 'Bidirectional' ? 'PROPAGATION_BIDIRECTIONAL'
        : vm.mountPropagation === 'HostToContainer' ? 'PROPAGATION_HOST_TO_CONTAINER' : 'PROPAGATION_PRIVATE',
    });
  }
  return out;
}

function securityContext(pod: V1Pod, c: V1Container): LinuxContainerSecurityContext {
  const psc = pod.spec?.securityContext;
  const sc = c.securityContext;
  const runAsUser = sc?.runAsUser ?? psc?.runAsUser;
  const runAsGroup = sc?.runAsGroup ?? psc?.runAsGroup;
  return {
    privileged: !!sc?.privileged,
    ...(sc?.capabilities ? { capabilities: { add_capabilities: sc.capabilities.add ?? [], drop_capabilities: sc.capabilities.drop ?? [] } } : {}),
    namespace_options: {
      network: pod.spec?.hostNetwork ? 'NODE' : 'POD',
      pid: pod.spec?.hostPID ? 'NODE' : pod.spec?.shareProcessNamespace ? 'POD' : 'CONTAINER',
      ipc: pod.spec?.hostIPC ? 'NODE' : 'POD',
    },
    ...(runAsUser !== undefined ? { run_as_user: { value: runAsUser } } : {}),
    ...(runAsGroup !== undefined ? { run_as_group: { value: runAsGroup } } : {}),
    readonly_rootfs: !!sc?.readOnlyRootFilesystem,
    no_new_privs: sc?.allowPrivilegeEscalation === false,
  };
}

export interface ContainerOptions {
  kind: 'init' | 'app';
  attempt: number;
  env: Map<string, string>;
  volumes: Map<string, PreparedVolume>;
  nodeMemoryBytes: number;
}

export function containerConfig(pod: V1Pod, c: V1Container, o: ContainerOptions): ContainerConfig {
  const expand = (s: string) => expandVars(s, o.env);
  return {
    metadata: { name: c.name, attempt: o.attempt },
    image: { image: c.image ?? '' },
    command: (c.command ?? []).map(expand),
    args: (c.args ?? []).map(expand),
    working_dir: c.workingDir ?? '',
    envs: [...o.env].map(([key, value]) => ({ key, value })),
    mounts: containerMounts(c, o.volumes),
    labels: {
      [LABEL_POD_NAME]: pod.metadata?.name ?? '',
      [LABEL_POD_NAMESPACE]: pod.metadata?.namespace ?? 'default',
      [LABEL_POD_UID]: pod.metadata?.uid ?? '',
      [LABEL_CONTAINER_NAME]: c.name,
      [LABEL_MANAGED]: 'true',
    },
    annotations: {
      [ANNOTATION_RESTART_COUNT]: String(o.attempt),
      [ANNOTATION_TERMINATION_GRACE]: String(pod.spec?.terminationGracePeriodSeconds ?? 30),
      [ANNOTATION_CONTAINER_KIND]: o.kind,
    },
    log_path: `${c.name}/${o.attempt}.log`,
    stdin: !!c.stdin,
    stdin_once: !!c.stdinOnce,
    tty: !!c.tty,
    linux: { resources: linuxResources(c, podQOSClass(pod), o.nodeMemoryBytes), security_context: securityContext(pod, c) },
  };
}
