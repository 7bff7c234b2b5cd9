// TypeScript shapes of the CRI v1 messages in api.proto, as the grpc client hands them back
// (proto-loader with keepCase, longs as String, enums as their names, defaults filled in).
// int64 fields are strings on the way out of the runtime; numbers are accepted on the way in.

export type Int64 = string | number;
export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface VersionResponse {
  version: string;
  runtime_name: string;
  runtime_version: string;
  runtime_api_version: string;
}
export interface RuntimeCondition { type: string; status: boolean; reason: string; message: string }
export interface StatusResponse { status: { conditions: RuntimeCondition[] } | null; info: Record<string, string> }

export interface ImageSpec { image: string; annotations?: Record<string, string> }
export interface Image {
  id: string;
  repo_tags: string[];
  repo_digests: string[];
  size: Int64;
  uid?: { value: Int64 } | null;
  username?: string;
  spec?: ImageSpec | null;
  pinned?: boolean;
}
export interface AuthConfig {
  username?: string; password?: string; auth?: string; server_address?: string;
  identity_token?: string; registry_token?: string;
}

export interface PodSandboxMetadata { name: string; uid: string; namespace: string; attempt: number }
export interface DNSConfig { servers: string[]; searches: string[]; options: string[] }
export interface PortMapping { protocol?: Protocol; container_port: number; host_port?: number; host_ip?: string }
export interface NamespaceOption { network?: NamespaceMode; pid?: NamespaceMode; ipc?: NamespaceMode; target_id?: string }
export interface LinuxContainerResources {
  cpu_period?: Int64;
  cpu_quota?: Int64;
  cpu_shares?: Int64;
  memory_limit_in_bytes?: Int64;
  oom_score_adj?: Int64;
  cpuset_cpus?: string;
  cpuset_mems?: string;
}
export interface LinuxPodSandboxConfig {
  cgroup_parent?: string;
  security_context?: {
    namespace_options?: NamespaceOption;
    run_as_user?: { value: Int64 };
    readonly_rootfs?: boolean;
    supplemental_groups?: Int64[];
    privileged?: boolean;
    run_as_group?: { value: Int64 };
  };
  sysctls?: Record<string, string>;
}
export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname?: string;
  log_directory?: string;
  dns_config?: DNSConfig;
  port_mappings?: PortMapping[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: LinuxPodSandboxConfig;
}
export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  created_at: Int64;
  network: { ip: string; additional_ips: { ip: string }[] } | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
export interface PodSandboxFilter {
  id?: string;
  state?: { state: PodSandboxState };
  label_selector?: Record<string, string>;
}
export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  created_at: Int64;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface ContainerMetadata { name: string; attempt: number }
export interface KeyValue { key: string; value: string }
export interface Mount {
  container_path: string;
  host_path: string;
  readonly?: boolean;
  propagation?: 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL';
}
export interface LinuxContainerSecurityContext {
  capabilities?: { add_capabilities: string[]; drop_capabilities: string[] };
  privileged?: boolean;
  namespace_options?: NamespaceOption;
  run_as_user?: { value: Int64 };
  run_as_group?: { value: Int64 };
  readonly_rootfs?: boolean;
  no_new_privs?: boolean;
}
export interface ContainerConfig {
  metadata: ContainerMetadata;
  image: ImageSpec;
  command?: string[];
  args?: string[];
  working_dir?: string;
  envs?: KeyValue[];
  mounts?: Mount[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  log_path?: string;
  stdin?: boolean;
  stdin_once?: boolean;
  tty?: boolean;
  linux?: { resources?: LinuxContainerResources; security_context?: LinuxContainerSecurityContext };
}
export interface ContainerStatus {
  id: string;
  metadata: ContainerMetadata;
  state: ContainerState;
  created_at: Int64;
  started_at: Int64;
  finished_at: Int64;
  exit_code: number;
  image: ImageSpec | null;
  image_ref: string;
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  mounts: Mount[];
  log_path: string;
}
export interface ContainerFilter {
  id?: string;
  state?: { state: ContainerState };
  pod_sandbox_id?: string;
  label_selector?: Record<string, string>;
}
export interface Container {
  id: string;
  pod_sandbox_id: string;
  metadata: ContainerMetadata;
  image: ImageSpec | null;
  image_ref: string;
  state: ContainerState;
  created_at: Int64;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
export interface ExecSyncResponse { stdout: Buffer; stderr: Buffer; exit_code: number }
export interface ExecRequest {
  container_id: string; cmd: string[]; tty?: boolean; stdin?: boolean; stdout?: boolean; stderr?: boolean;
}
export interface AttachRequest { container_id: string; stdin?: boolean; tty?: boolean; stdout?: boolean; stderr?: boolean }

/** The runtime and image services the kubelet uses. The gRPC client and the fake both implement it. */
export interface RuntimeService {
  version(): Promise<VersionResponse>;
  status(): Promise<StatusResponse>;
  runPodSandbox(config: PodSandboxConfig, runtimeHandler?: string): Promise<string>;
  stopPodSandbox(id: string): Promise<void>;
  removePodSandbox(id: string): Promise<void>;
  podSandboxStatus(id: string): Promise<PodSandboxStatus>;
  listPodSandbox(filter?: PodSandboxFilter): Promise<PodSandbox[]>;
  createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** timeoutSeconds: grace before the runtime kills the container (0 = at once). */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  listContainers(filter?: ContainerFilter): Promise<Container[]>;
  containerStatus(id: string): Promise<ContainerStatus>;
  execSync(id: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncResponse>;
  exec(req: ExecRequest): Promise<string>;
  attach(req: AttachRequest): Promise<string>;
  portForward(podSandboxId: string, ports: number[]): Promise<string>;
  reopenContainerLog(id: string): Promise<void>;
  // image service
  imageStatus(image: string): Promise<Image | null>;
  pullImage(image: string, auth?: AuthConfig, sandboxConfig?: PodSandboxConfig): Promise<string>;
  listImages(filter?: string): Promise<Image[]>;
  removeImage(image: string): Promise<void>;
  close(): void;
}

/** CRI calls fail with gRPC status codes; NOT_FOUND (5) is the one the kubelet branches on. */
export class CriError extends Error {
  readonly code: number;
  readonly method: string;
  constructor(method: string, code: number, message: string) {
    super(`CRI ${method}: ${message}`);
    this.name = 'CriError';
    this.method = method;
    this.code = code;
  }
}
export const GRPC_NOT_FOUND = 5;
export const GRPC_UNAVAILABLE = 14;
export const GRPC_DEADLINE_EXCEEDED = 4;

export function isNotFound(err: unknown): boolean {
  return err instanceof CriError && err.code === GRPC_NOT_FOUND;
}
