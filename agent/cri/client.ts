// Typed CRI v1 client over @grpc/grpc-js on the runtime's unix socket (containerd's CRI plugin).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type {
  AttachRequest, AuthConfig, Container, ContainerConfig, ContainerFilter, ContainerStatus, ExecRequest,
  ExecSyncResponse, Image, PodSandbox, PodSandboxConfig, PodSandboxFilter, PodSandboxStatus, RuntimeService,
  StatusResponse, VersionResponse,
} from './types.ts';
import { CriError, GRPC_DEADLINE_EXCEEDED } from './types.ts';

const PROTO = path.join(path.dirname(fileURLToPath(import.meta.url)), 'api.proto');

type Unary = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: any) => void) => void;
type ServiceClient = grpc.Client & Record<string, Unary>;

let loaded: { RuntimeService: grpc.ServiceClientConstructor; ImageService: grpc.ServiceClientConstructor } | undefined;
function services() {
  if (!loaded) {
    const def = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as any;
    loaded = { RuntimeService: pkg.runtime.v1.RuntimeService, ImageService: pkg.runtime.v1.ImageService };
  }
  return loaded;
}

/** Accepts `unix:///abs/path`, `unix:/abs/path` or a bare absolute path; grpc-js needs the absolute form. */
export function normalizeEndpoint(endpoint: string): string {
  let p = endpoint;
  if (p.startsWith('unix://')) p = p.slice('unix://'.length);
  else if (p.startsWith('unix:')) p = p.slice('unix:'.length);
  if (!path.isAbsolute(p)) {
    throw new Error(`container runtime endpoint "${endpoint}" must be an absolute unix socket path (unix:///abs/path)`);
  }
  return `unix://${p}`;
}

export interface CriClientOptions {
  /** Default per-call deadline in ms (pulls get ten times this). */
  timeoutMs?: number;
  /** Observer for each call's duration, used by the pod startup benchmark. */
  onCall?: (method: string, ms: number, ok: boolean) => void;
}

export class CriClient implements RuntimeService {
  private readonly runtime: ServiceClient;
  private readonly images: ServiceClient;
  private readonly timeoutMs: number;
  private readonly onCall?: CriClientOptions['onCall'];

  constructor(endpoint: string, opts: CriClientOptions = {}) {
    const target = normalizeEndpoint(endpoint);
    const s = services();
    const creds = grpc.credentials.createInsecure();
    const chOpts = { 'grpc.max_receive_message_length': 32 * 1024 * 1024 };
    this.runtime = new s.RuntimeService(target, creds, chOpts) as ServiceClient;
    this.images = new s.ImageService(target, creds, chOpts) as ServiceClient;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.onCall = opts.onCall;
  }

  private call<T>(client: ServiceClient, method: string, req: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    const started = performance.now();
    return new Promise<T>((resolve, reject) => {
      client[method]!.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        this.onCall?.(method, performance.now() - started, !err);
        if (err) reject(new CriError(method, err.code ?? GRPC_DEADLINE_EXCEEDED, err.details || err.message));
        else resolve(res as T);
      });
    });
  }

  async version(): Promise<VersionResponse> {
    return this.call(this.runtime, 'Version', { version: '0.1.0' }, 10_000);
  }
  async status(): Promise<StatusResponse> {
    return this.call(this.runtime, 'Status', { verbose: false }, 10_000);
  }
  async runPodSandbox(config: PodSandboxConfig, runtimeHandler = ''): Promise<string> {
    const res = await this.call<{ pod_sandbox_id: string }>(this.runtime, 'RunPodSandbox', { config, runtime_handler: runtimeHandler });
    return res.pod_sandbox_id;
  }
  async stopPodSandbox(id: string): Promise<void> {
    await this.call(this.runtime, 'StopPodSandbox', { pod_sandbox_id: id });
  }
  async removePodSandbox(id: string): Promise<void> {
    await this.call(this.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
  }
  async podSandboxStatus(id: string): Promise<PodSandboxStatus> {
    const res = await this.call<{ status: PodSandboxStatus }>(this.runtime, 'PodSandboxStatus', { pod_sandbox_id: id });
    return res.status;
  }
  async listPodSandbox(filter?: PodSandboxFilter): Promise<PodSandbox[]> {
    const res = await this.call<{ items: PodSandbox[] }>(this.runtime, 'ListPodSandbox', { filter: filter ?? null });
    return res.items;
  }
  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    const res = await this.call<{ container_id: string }>(this.runtime, 'CreateContainer',
      { pod_sandbox_id: podSandboxId, config, sandbox_config: sandboxConfig });
    return res.container_id;
  }
  async startContainer(id: string): Promise<void> {
    await this.call(this.runtime, 'StartContainer', { container_id: id });
  }
  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    // The deadline must outlast the grace period the runtime waits before SIGKILL.
    await this.call(this.runtime, 'StopContainer', { container_id: id, timeout: timeoutSeconds },
      this.timeoutMs + timeoutSeconds * 1000);
  }
  async removeContainer(id: string): Promise<void> {
    await this.call(this.runtime, 'RemoveContainer', { container_id: id });
  }
  async listContainers(filter?: ContainerFilter): Promise<Container[]> {
    const res = await this.call<{ containers: Container[] }>(this.runtime, 'ListContainers', { filter: filter ?? null });
    return res.containers;
  }
  async containerStatus(id: string): Promise<ContainerStatus> {
    const res = await this.call<{ status: ContainerStatus }>(this.runtime, 'ContainerStatus', { container_id: id });
    return res.status;
  }
  async execSync(id: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncResponse> {
    return this.call(this.runtime, 'ExecSync', { container_id: id, cmd, timeout: timeoutSeconds },
      timeoutSeconds > 0 ? timeoutSeconds * 1000 + 5_000 : this.timeoutMs);
  }
  async exec(req: ExecRequest): Promise<string> {
    return (await this.call<{ url: string }>(this.runtime, 'Exec', req)).url;
  }
  async attach(req: AttachRequest): Promise<string> {
    return (await this.call<{ url: string }>(this.runtime, 'Attach', req)).url;
  }
  async portForward(podSandboxId: string, ports: number[]): Promise<string> {
    return (await this.call<{ url: string }>(this.runtime, 'PortForward', { pod_sandbox_id: podSandboxId, port: ports })).url;
  }
  async reopenContainerLog(id: string): Promise<void> {
    await this.call(this.runtime, 'ReopenContainerLog', { container_id: id });
  }
  async imageStatus(image: string): Promise<Image | null> {
    const res = await this.call<{ image: Image | null }>(this.images, 'ImageStatus', { image: { image }, verbose: false });
    return res.image ?? null;
  }
  async pullImage(image: string, auth?: AuthConfig, sandboxConfig?: PodSandboxConfig): Promise<string> {
    const res = await this.call<{ image_ref: string }>(this.images, 'PullImage',
      { image: { image }, auth: auth ?? null, sandbox_config: sandboxConfig ?? null }, this.timeoutMs * 10);
    return res.image_ref;
  }
  async listImages(filter?: string): Promise<Image[]> {
    const res = await this.call<{ images: Image[] }>(this.images, 'ListImages', { filter: filter ? { image: { image: filter } } : null });
    return res.images;
  }
  async removeImage(image: string): Promise<void> {
    await this.call(this.images, 'RemoveImage', { image: { image } });
  }
  close(): void {
    this.runtime.close();
    this.images.close();
  }
}
