// An in-memory runtime behind the same RuntimeService interface as the gRPC client: for unit tests and
// hollow nodes. Containers do not run anything; tests steer them with the hooks and helpers below.
import { randomBytes } from 'node:crypto';
import type {
  AttachRequest, AuthConfig, Container, ContainerConfig, ContainerFilter, ContainerState, ContainerStatus,
  ExecRequest, ExecSyncResponse, Image, PodSandbox, PodSandboxConfig, PodSandboxFilter, PodSandboxStatus,
  RuntimeService, StatusResponse, VersionResponse,
} from './types.ts';
import { CriError, GRPC_NOT_FOUND, GRPC_UNAVAILABLE } from './types.ts';

interface FakeSandbox { status: PodSandboxStatus; config: PodSandboxConfig }
interface FakeContainer { status: ContainerStatus; sandboxId: string; config: ContainerConfig }

export interface FakeRuntimeOptions {
  /** Images present from the start. */
  images?: string[];
  /** Images PullImage can fetch (anything else fails as a registry would). */
  pullable?: string[];
  /** Called by StartContainer; return an exit code to make the container exit at once, or throw to fail the start. */
  onStart?: (config: ContainerConfig, id: string) => number | undefined;
  /** Answers ExecSync; default exit 0 with no output. */
  onExec?: (containerId: string, cmd: string[]) => ExecSyncResponse | Promise<ExecSyncResponse>;
  /** Pod IP allocator; default 10.88.0.x. */
  podCidrPrefix?: string;
  /** Report NetworkReady=false until set to true. */
  networkReady?: boolean;
}

const nowNs = () => (BigInt(Date.now()) * 1_000_000n).toString();

export class FakeRuntime implements RuntimeService {
  readonly sandboxes = new Map<string, FakeSandbox>();
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Map<string, Image>();
  /** Every call made, in order, by method name. */
  readonly calls: string[] = [];
  /** When true every call fails with UNAVAILABLE, as if the runtime socket were gone. */
  down = false;
  networkReady: boolean;
  private nextIp = 2;
  private readonly opts: FakeRuntimeOptions;

  constructor(opts: FakeRuntimeOptions = {}) {
    this.opts = opts;
    this.networkReady = opts.networkReady ?? true;
    for (const i of opts.images ?? []) this.addImage(i);
  }

  addImage(name: string): void {
    this.images.set(name, { id: `sha256:${randomBytes(32).toString('hex')}`, repo_tags: [name], repo_digests: [], size: '1024', spec: { image: name } });
  }

  /** Make a running container exit, as if its process ended. */
  exitContainer(id: string, exitCode: number, reason = exitCode === 0 ? 'Completed' : 'Error'): void {
    const c = this.mustContainer('exitContainer', id);
    if (c.status.state !== 'CONTAINER_RUNNING') return;
    c.status.state = 'CONTAINER_EXITED';
    c.status.exit_code = exitCode;
    c.status.reason = reason;
    c.status.finished_at = nowNs();
  }

  /** Containers whose metadata name is `name`, newest first. */
  containersNamed(name: string): FakeContainer[] {
    return [...this.containers.values()].filter((c) => c.status.metadata.name === name)
      .sort((a, b) => Number(BigInt(b.status.created_at) - BigInt(a.status.created_at)) || b.status.metadata.attempt - a.status.metadata.attempt);
  }

  private enter(method: string): void {
    this.calls.push(method);
    if (this.down) throw new CriError(method, GRPC_UNAVAILABLE, 'connection refused');
  }
  private mustSandbox(method: string, id: string): FakeSandbox {
    const s = this.sandboxes.get(id);
    if (!s) throw new CriError(method, GRPC_NOT_FOUND, `sandbox "${id}" not found`);
    return s;
  }
  private mustContainer(method: string, id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw new CriError(method, GRPC_NOT_FOUND, `container "${id}" not found`);
    return c;
  }

  async version(): Promise<VersionResponse> {
    this.enter('Version');
    return { version: '0.1.0', runtime_name: 'fake', runtime_version: '0.0.1', runtime_api_version: 'v1' };
  }
  async status(): Promise<StatusResponse> {
    this.enter('Status');
    return { status: { conditions: [
      { type: 'RuntimeReady', status: true, reason: '', message: '' },
      { type: 'NetworkReady', status: this.networkReady, reason: this.networkReady ? '' : 'NetworkPluginNotReady',
        message: this.networkReady ? '' : 'cni config uninitialized' },
    ] }, info: {} };
  }
  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    this.enter('RunPodSandbox');
    const id = randomBytes(32).toString('hex');
    const hostNet = config.linux?.security_context?.namespace_options?.network === 'NODE';
    const ip = hostNet ? '' : `${this.opts.podCidrPrefix ?? '10.88.0.'}${this.nextIp++}`;
    this.sandboxes.set(id, { config, status: {
      id, metadata: config.metadata, state: 'SANDBOX_READY', created_at: nowNs(),
      network: { ip, additional_ips: [] }, labels: config.labels ?? {}, annotations: config.annotations ?? {},
    } });
    return id;
  }
  async stopPodSandbox(id: string): Promise<void> {
    this.enter('StopPodSandbox');
    const s = this.sandboxes.get(id);
    if (!s) return;
    for (const [cid, c] of this.containers) if (c.sandboxId === id) this.exitContainer(cid, 137);
    s.status.state = 'SANDBOX_NOTREADY';
  }
  async removePodSandbox(id: string): Promise<void> {
    this.enter('RemovePodSandbox');
    for (const [cid, c] of this.containers) if (c.sandboxId === id) this.containers.delete(cid);
    this.sandboxes.delete(id);
  }
  async podSandboxStatus(id: string): Promise<PodSandboxStatus> {
    this.enter('PodSandboxStatus');
    return structuredClone(this.mustSandbox('PodSandboxStatus', id).status);
  }
  async listPodSandbox(filter?: PodSandboxFilter): Promise<PodSandbox[]> {
    this.enter('ListPodSandbox');
    return [...this.sandboxes.values()].map((s) => s.status)
      .filter((s) => (!filter?.id || s.id === filter.id) && (!filter?.state || s.state === filter.state.state)
        && matchLabels(s.labels, filter?.label_selector))
      .map((s) => ({ id: s.id, metadata: s.metadata, state: s.state, created_at: s.created_at, labels: s.labels, annotations: s.annotations }));
  }
  async createContainer(podSandboxId: string, config: ContainerConfig, _sandboxConfig?: PodSandboxConfig): Promise<string> {
    this.enter('CreateContainer');
    const sb = this.mustSandbox('CreateContainer', podSandboxId);
    if (sb.status.state !== 'SANDBOX_READY') throw new CriError('CreateContainer', 9, `sandbox ${podSandboxId} is not ready`);
    if (!this.images.has(config.image.image)) {
      throw new CriError('CreateContainer', GRPC_NOT_FOUND, `failed to get image "${config.image.image}": not found`);
    }
    const id = randomBytes(32).toString('hex');
    this.containers.set(id, { sandboxId: podSandboxId, config, status: {
      id, metadata: config.metadata, state: 'CONTAINER_CREATED', created_at: nowNs(), started_at: '0', finished_at: '0',
      exit_code: 0, image: config.image, image_ref: this.images.get(config.image.image)!.id, reason: '', message: '',
      labels: config.labels ?? {}, annotations: config.annotations ?? {}, mounts: config.mounts ?? [], log_path: config.log_path ?? '',
    } });
    return id;
  }
  async startContainer(id: string): Promise<void> {
    this.enter('StartContainer');
    const c = this.mustContainer('StartContainer', id);
    let exit: number | undefined;
    try {
      exit = this.opts.onStart?.(c.config, id);
    } catch (err) {
      c.status.state = 'CONTAINER_EXITED';
      c.status.exit_code = 128;
      c.status.reason = 'StartError';
      c.status.message = (err as Error).message;
      c.status.finished_at = nowNs();
      throw new CriError('StartContainer', 2, (err as Error).message);
    }
    c.status.state = 'CONTAINER_RUNNING';
    c.status.started_at = nowNs();
    if (exit !== undefined) this.exitContainer(id, exit);
  }
  async stopContainer(id: string): Promise<void> {
    this.enter('StopContainer');
    const c = this.containers.get(id);
    if (c && c.status.state === 'CONTAINER_RUNNING') this.exitContainer(id, 137);
  }
  async removeContainer(id: string): Promise<void> {
    this.enter('RemoveContainer');
    this.containers.delete(id);
  }
  async listContainers(filter?: ContainerFilter): Promise<Container[]> {
    this.enter('ListContainers');
    return [...this.containers.values()]
      .filter((c) => (!filter?.id || c.status.id === filter.id) && (!filter?.pod_sandbox_id || c.sandboxId === filter.pod_sandbox_id)
        && (!filter?.state || c.status.state === filter.state.state) && matchLabels(c.status.labels, filter?.label_selector))
      .map((c) => ({ id: c.status.id, pod_sandbox_id: c.sandboxId, metadata: c.status.metadata, image: c.status.image,
        image_ref: c.status.image_ref, state: c.status.state as ContainerState, created_at: c.status.created_at,
        labels: c.status.labels, annotations: c.status.annotations }));
  }
  async containerStatus(id: string): Promise<ContainerStatus> {
    this.enter('ContainerStatus');
    return structuredClone(this.mustContainer('ContainerStatus', id).status);
  }
  async execSync(id: string, cmd: string[]): Promise<ExecSyncResponse> {
    this.enter('ExecSync');
    const c = this.mustContainer('ExecSync', id);
    if (c.status.state !== 'CONTAINER_RUNNING') throw new CriError('ExecSync', 9, `container ${id} is not running`);
    return this.opts.onExec ? this.opts.onExec(id, cmd) : { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exit_code: 0 };
  }
  async exec(req: ExecRequest): Promise<string> {
    this.enter('Exec');
    this.mustContainer('Exec', req.container_id);
    return `http://127.0.0.1:0/exec/${req.container_id}`;
  }
  async attach(req: AttachRequest): Promise<string> {
    this.enter('Attach');
    this.mustContainer('Attach', req.container_id);
    return `http://127.0.0.1:0/attach/${req.container_id}`;
  }
  async portForward(podSandboxId: string): Promise<string> {
    this.enter('PortForward');
    this.mustSandbox('PortForward', podSandboxId);
    return `http://127.0.0.1:0/portforward/${podSandboxId}`;
  }
  async reopenContainerLog(id: string): Promise<void> {
    this.enter('ReopenContainerLog');
    this.mustContainer('ReopenContainerLog', id);
  }
  async imageStatus(image: string): Promise<Image | null> {
    this.enter('ImageStatus');
    return this.images.get(image) ?? null;
  }
  async pullImage(image: string, _auth?: AuthConfig): Promise<string> {
    this.enter('PullImage');
    if (!(this.opts.pullable ?? []).includes(image) && !this.images.has(image)) {
      throw new CriError('PullImage', 2, `failed to pull and unpack image "${image}": failed to resolve reference "${image}": not found`);
    }
    if (!this.images.has(image)) this.addImage(image);
    return this.images.get(image)!.id;
  }
  async listImages(): Promise<Image[]> {
    this.enter('ListImages');
    return [...this.images.values()];
  }
  async removeImage(image: string): Promise<void> {
    this.enter('RemoveImage');
    this.images.delete(image);
  }
  close(): void {}
}

function matchLabels(labels: Record<string, string>, selector?: Record<string, string>): boolean {
  if (!selector) return true;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
