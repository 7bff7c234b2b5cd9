// Test harness: a real containerd with its own config, root, state, socket, CNI config, bridge and
// cgroup parent, running inside a network namespace made for the test (a "node"). Reusable by any
// integration test that needs a container runtime. Everything it makes is removed by stop().
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { CriClient } from '../../../agent/cri/client.ts';
import { buildImages, PAUSE_IMAGE } from '../../../agent/images/build.ts';
import { importImages } from '../../../agent/images/import.ts';
import { removeCgroupTree } from '../../../lab/cgroups.ts';
import { CONTAINERD_START_SCRIPT, containerdConfig } from '../../../lab/containerd.ts';

const run = promisify(execFile);
export const HARNESS_ROOT = '/var/lib/kts-test';

export interface ContainerdNodeOptions {
  /** Write a bridge+host-local CNI config (default true). Off when the kubelet under test writes its own. */
  writeCni?: boolean;
  /** Import the pause and busybox images (default true). */
  images?: boolean;
  /**
   * Link the node netns to the host with a veth pair on a random 100.64.x.y/30 and route the pod CIDR
   * through it, so that a process on the host (a kubelet under test, its probes) reaches pod IPs.
   */
  hostRoute?: boolean;
}

export interface ContainerdNode {
  suffix: string;
  netns: string;
  dir: string;
  socket: string;
  /** unix:///abs/path form for CRI clients. */
  endpoint: string;
  cniConfDir: string;
  cniNetworkName: string;
  podCidr: string;
  podGateway: string;
  bridge: string;
  /** Per-node cgroup parent root, e.g. /kts-test-ab12cd (P4 in linux-host-facts). */
  cgroupParent: string;
  containerdPid: number;
  logFile: string;
  /** With hostRoute: the node's address on the link (its "node IP") and the host side's. */
  nodeIP?: string;
  hostSideIP?: string;
  /** Run a command inside the node's network namespace. */
  exec(cmd: string, args: string[], opts?: { timeoutMs?: number }): Promise<{ stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

function cniConflist(name: string, bridge: string, subnet: string, gateway: string, ipamDir: string): string {
  return JSON.stringify({
    cniVersion: '0.4.0', name,
    plugins: [
      { type: 'bridge', bridge, isGateway: true, ipMasq: false, hairpinMode: true,
        ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet, gateway }]], routes: [{ dst: '0.0.0.0/0' }] } },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'loopback' },
    ],
  }, null, 2);
}


async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, logFile?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  let tail = '';
  if (logFile) tail = (await run('tail', ['-n', '30', logFile]).catch(() => ({ stdout: '' }))).stdout;
  throw new Error(`timed out waiting for ${what}${tail ? `\n${tail}` : ''}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function killPid(pid: number, graceMs: number): Promise<void> {
  if (!alive(pid)) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    while (alive(pid)) await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startContainerdNode(opts: ContainerdNodeOptions = {}): Promise<ContainerdNode> {
  const suffix = randomBytes(3).toString('hex');
  const netns = `kts-${suffix}`;
  const dir = path.join(HARNESS_ROOT, suffix);
  const cniConfDir = path.join(dir, 'cni', 'net.d');
  const bridge = `ktsbr${suffix}`;
  const a = 16 + (randomBytes(1)[0]! % 200);
  const b = randomBytes(1)[0]!;
  const podCidr = `10.${a}.${b}.0/24`;
  const podGateway = `10.${a}.${b}.1`;
  const cgroupParent = `/kts-test-${suffix}`;
  const cniNetworkName = `kts-${suffix}`;
  const logFile = path.join(dir, 'containerd.log');
  const socket = path.join(dir, 'containerd.sock');
  let containerdPid = 0;
  const hostLink = `kh${suffix}`;
  const linkNet = [100, 64, randomBytes(1)[0]!, (randomBytes(1)[0]! % 64) * 4];
  const hostSideIP = opts.hostRoute ? linkNet.slice(0, 3).concat(linkNet[3]! + 1).join('.') : undefined;
  const nodeIP = opts.hostRoute ? linkNet.slice(0, 3).concat(linkNet[3]! + 2).join('.') : undefined;
  let client: CriClient | undefined;

  const exec = async (cmd: string, args: string[], o: { timeoutMs?: number } = {}) =>
    run('ip', ['netns', 'exec', netns, cmd, ...args], { timeout: o.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 });

  const stop = async (): Promise<void> => {
    // Pods first, so shims exit and CNI releases addresses; then the daemon, stragglers in the netns, cgroups, files.
    if (client && containerdPid && alive(containerdPid)) {
      try {
        for (const s of await client.listPodSandbox()) {
          await client.stopPodSandbox(s.id).catch(() => {});
          await client.removePodSandbox(s.id).catch(() => {});
        }
      } catch { /* runtime already gone */ }
    }
    client?.close();
    if (containerdPid) await killPid(containerdPid, 5000);
    const pids = await run('ip', ['netns', 'pids', netns]).then((r) => r.stdout.split(/\s+/).filter(Boolean).map(Number), () => []);
    for (const pid of pids) await killPid(pid, 2000);
    await removeCgroupTree(cgroupParent);
    if (opts.hostRoute) await run('ip', ['link', 'del', hostLink]).catch(() => {});
    await run('ip', ['netns', 'del', netns]).catch(() => {});
    for (const f of await readdir('/var/lib/cni/results').catch(() => [] as string[])) {
      if (f.startsWith(`${cniNetworkName}-`)) await rm(path.join('/var/lib/cni/results', f), { force: true });
    }
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };

  try {
    await mkdir(cniConfDir, { recursive: true });
    await run('ip', ['netns', 'add', netns]);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    if (opts.hostRoute) {
      await run('ip', ['link', 'add', hostLink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
      await run('ip', ['addr', 'add', `${hostSideIP}/30`, 'dev', hostLink]);
      await run('ip', ['link', 'set', hostLink, 'up']);
      await run('ip', ['-n', netns, 'addr', 'add', `${nodeIP}/30`, 'dev', 'eth0']);
      await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['netns', 'exec', netns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      await run('ip', ['route', 'add', podCidr, 'via', nodeIP!, 'dev', hostLink]);
    }
    await writeFile(path.join(dir, 'config.toml'), containerdConfig(dir, cniConfDir, nodeIP ?? '127.0.0.1'));
    if (opts.writeCni !== false) {
      await writeFile(path.join(cniConfDir, '10-kts.conflist'),
        cniConflist(cniNetworkName, bridge, podCidr, podGateway, path.join(dir, 'cni', 'ipam')));
    }
    await writeFile(path.join(dir, 'start-containerd.sh'), CONTAINERD_START_SCRIPT, { mode: 0o755 });
    const fd = openSync(logFile, 'a');
    const child = spawn('ip', ['netns', 'exec', netns, 'bash', path.join(dir, 'start-containerd.sh'), path.join(dir, 'config.toml')],
      { detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child.unref();
    containerdPid = child.pid ?? 0;
    client = new CriClient(`unix://${socket}`, { timeoutMs: 60_000 });
    const c = client;
    await waitFor('containerd CRI to answer', async () => {
      if (!alive(containerdPid)) throw new Error('containerd exited');
      await c.version();
      return true;
    }, 30_000, logFile);
    if (opts.images !== false) {
      const imgDir = path.join(dir, 'images');
      await buildImages(imgDir);
      await importImages(socket, imgDir);
    }
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }

  return {
    suffix, netns, dir, socket, endpoint: `unix://${socket}`, cniConfDir, cniNetworkName, podCidr, podGateway, bridge,
    cgroupParent, containerdPid, logFile, nodeIP, hostSideIP, exec, stop,
  };
}
