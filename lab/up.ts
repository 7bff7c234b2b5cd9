// `kts lab up`: control plane on the host, N nodes in network namespaces, all started detached and recorded
// in <dir>/lab.json. Every wait polls a real signal (etcd answers, /readyz, CRI Version, node Ready).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { buildImages } from '../agent/images/build.ts';
import { importImages } from '../agent/images/import.ts';
import { CriClient } from '../agent/cri/client.ts';
import { RestClient } from '../client/rest.ts';
import { loadKubeconfigFile } from '../client/kubeconfig.ts';
import { nodePaths, prepareContainerd } from './containerd.ts';
import { addPeerRoutes, createBridge, createNodeNetwork, linkExists, netnsExists } from './network.ts';
import { planLab, validateOptions, type LabOptions, type LabPlan, type NodePlan } from './plan.ts';
import { writeLabPki, type LabPki } from './pki.ts';
import { labCompileCacheDir, nodeAgentEnv } from './node-flags.ts';
import { freePort, isAlive, logTail, ProcessExitedError, startDetached, waitUntil } from './process.ts';
import { readState, writeState, type LabProcess, type LabState } from './state.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const KTS = path.join(ROOT, 'bin', 'kts');

export type Say = (line: string) => void;

export type UpResult = { alreadyUp: true; state: LabState } | { alreadyUp: false; state: LabState };

async function resolvePort(p: number): Promise<number> {
  return p === 0 ? freePort() : p;
}

/** A process that died while we waited is reported with its log, instead of waiting out the timeout. */
function checkAlive(p: LabProcess): void {
  if (!isAlive(p)) throw new ProcessExitedError(`${p.name} exited; the end of ${p.log}:\n${logTail(p.log)}`);
}

function storeCommand(plan: LabPlan): { cmd: string; args: string[] } {
  const client = `http://127.0.0.1:${plan.etcdPort}`;
  const peer = `http://127.0.0.1:${plan.etcdPeerPort}`;
  const args = ['--name', 'lab', '--data-dir', path.join(plan.options.dir, 'etcd'), '--listen-client-urls', client,
    '--advertise-client-urls', client, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `lab=${peer}`];
  return plan.options.store === 'etcd' ? { cmd: 'etcd', args: [...args, '--logger', 'zap'] } : { cmd: KTS, args: ['etcd', ...args] };
}

async function etcdAnswers(endpoint: string): Promise<boolean> {
  const { Etcd3 } = await import('etcd3');
  const c = new Etcd3({ hosts: endpoint, dialTimeout: 1000 });
  let timer: NodeJS.Timeout | undefined;
  try {
    // The client retries on its own; a probe must answer quickly or count as "not yet".
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('probe timed out')), 2000); });
    await Promise.race([c.get('/kts-lab-probe').string(), timeout]);
    return true;
  } finally {
    clearTimeout(timer);
    c.close();
  }
}

async function apiGet<T>(client: RestClient, p: string): Promise<T> {
  return client.request<T>({ method: 'GET', path: p, timeoutMs: 5000 });
}

/**
 * The `kubernetes` Service's EndpointSlice, which kube-proxy reads (it does not read Endpoints). Upstream's
 * apiserver writes it beside the Endpoints; ours writes only the Endpoints so far, so the lab adds the slice
 * once, and leaves one that is already there alone.
 */
async function ensureKubernetesSlice(client: RestClient, plan: LabPlan): Promise<void> {
  const slice = {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [plan.bridgeIP], conditions: { ready: true } }],
    ports: [{ name: 'https', port: plan.apiserverPort, protocol: 'TCP' }],
  };
  try {
    await client.request({ method: 'POST', path: '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', body: slice });
  } catch (err) {
    if ((err as { reason?: string }).reason !== 'AlreadyExists') throw err;
  }
}

function agentLog(plan: LabPlan, node: string): string {
  return path.join(plan.options.dir, 'logs', `agent-${node}.log`);
}

async function startNode(state: LabState, pki: LabPki, n: NodePlan, imageDir: string, say: Say): Promise<void> {
  const plan = state.plan;
  const p = nodePaths(n);
  const logs = path.join(plan.options.dir, 'logs');
  await createNodeNetwork(plan, n);
  const c = prepareContainerd(n);
  const containerd = startDetached(`containerd/${n.name}`, c.cmd, c.args, path.join(logs, `containerd-${n.name}.log`), n.name);
  state.processes.push(containerd);
  writeState(state);
  const cri = new CriClient(`unix://${p.socket}`, { timeoutMs: 10_000 });
  try {
    await waitUntil(`containerd on ${n.name} to answer CRI`, async () => { checkAlive(containerd); await cri.version(); return true; },
      60_000, () => logTail(containerd.log));
  } finally {
    cri.close();
  }
  await importImages(p.socket, imageDir);
  say(`  ${n.name}: containerd up, images imported`);

  // The kubelet and kube-proxy run as one `kts agent` process (as systemd/kts-agent.service does), inside the
  // node's netns: kube-proxy's iptables rules land there, and the kubelet serves on the node's own address.
  // Same Node flags and compile cache as under systemd (lab/node-flags.ts; scripts/setup.sh fills the cache).
  const agentEnv = nodeAgentEnv(labCompileCacheDir(ROOT));
  const agent = startDetached(`agent/${n.name}`, 'ip', ['netns', 'exec', n.netns, KTS, 'agent',
    '--kubeconfig', pki.kubeletKubeconfig(n.name),
    '--container-runtime-endpoint', `unix://${p.socket}`, '--node-ip', n.ip, '--hostname-override', n.name,
    '--root-dir', p.kubeletRoot, '--pod-logs-dir', p.podLogs, '--cgroup-root', n.cgroupRoot, '--pod-cidr', n.podCidr,
    '--cni-conf-dir', p.cniConfDir, '--address', n.ip, '--port', String(n.kubeletPort),
    '--tls-cert-file', pki.kubeletServing(n.name).cert, '--tls-private-key-file', pki.kubeletServing(n.name).key, '--client-ca-file', pki.caCert,
    '--', '--kubeconfig', pki.proxyKubeconfig(n.name), '--hostname-override', n.name, '--cluster-cidr', plan.options.podCidr],
  agentLog(plan, n.name), n.name, agentEnv);
  state.processes.push(agent);
  writeState(state);
}

/** Brings the lab up, or reports that one is already up in opts.dir. On failure it leaves lab.json for `down`. */
export async function labUp(opts: LabOptions, say: Say): Promise<UpResult> {
  validateOptions(opts);
  if (process.getuid?.() !== 0) throw new Error('kts lab needs root: it makes network namespaces, links, routes and cgroups');
  const existing = readState(opts.dir);
  if (existing) return { alreadyUp: true, state: existing };
  // Refuse to take over names somebody else's lab (or anything else) already uses.
  if (await linkExists(opts.bridge)) throw new Error(`--bridge: a link named ${opts.bridge} already exists (another lab? use --bridge or kts lab down)`);
  for (let i = 1; i <= opts.nodes; i++) {
    if (await netnsExists(`${opts.prefix}-n${i}`)) throw new Error(`--prefix: network namespace ${opts.prefix}-n${i} already exists`);
  }

  const kubelets: number[] = [];
  while (kubelets.length < opts.nodes) {
    const port = await freePort();
    if (!kubelets.includes(port)) kubelets.push(port); // the kernel may hand out a just-closed port again
  }
  const plan = planLab(opts, { apiserver: await resolvePort(opts.apiserverPort), etcd: await resolvePort(opts.etcdPort),
    etcdPeer: await resolvePort(opts.etcdPeerPort), kubelets });
  mkdirSync(path.join(opts.dir, 'logs'), { recursive: true });
  const state: LabState = { plan, processes: [], ready: false };
  writeState(state);

  say(`writing certificates and kubeconfigs under ${opts.dir}`);
  const pki = await writeLabPki(plan);
  const imageDir = path.join(opts.dir, 'images');
  const images = buildImages(imageDir);
  images.catch(() => {}); // awaited below; this only keeps an early failure from being unhandled

  say(`starting the store (${opts.store === 'etcd' ? 'etcd 3.4' : 'kts etcd'}) on 127.0.0.1:${plan.etcdPort}`);
  const store = storeCommand(plan);
  const etcd = startDetached('etcd', store.cmd, store.args, path.join(opts.dir, 'logs', 'etcd.log'));
  state.processes.push(etcd);
  writeState(state);
  await createBridge(plan);
  await waitUntil('the store to answer', async () => { checkAlive(etcd); return etcdAnswers(`http://127.0.0.1:${plan.etcdPort}`); },
    60_000, () => logTail(etcd.log));

  say(`starting the apiserver on :${plan.apiserverPort} (loopback and ${plan.bridgeIP})`);
  const apiserver = startDetached('apiserver', KTS, ['apiserver', '--etcd-servers', `http://127.0.0.1:${plan.etcdPort}`,
    '--bind-address', '0.0.0.0', '--secure-port', String(plan.apiserverPort), '--advertise-address', plan.bridgeIP,
    '--service-cluster-ip-range', opts.serviceCidr, '--tls-cert-file', pki.servingCert, '--tls-private-key-file', pki.servingKey,
    '--client-ca-file', pki.caCert, '--kubelet-client-certificate', pki.apiserverKubeletClient.cert,
    '--kubelet-client-key', pki.apiserverKubeletClient.key,
    '--service-account-signing-key-file', pki.serviceAccount.key, '--service-account-key-file', pki.serviceAccount.pub],
  path.join(opts.dir, 'logs', 'apiserver.log'));
  state.processes.push(apiserver);
  writeState(state);
  const client = new RestClient({ ...loadKubeconfigFile(pki.adminKubeconfig), qps: 0 });
  try {
    await waitUntil('apiserver /readyz', async () => {
      checkAlive(apiserver);
      const r = await client.raw({ method: 'GET', path: '/readyz', timeoutMs: 5000 });
      return r.status === 200;
    }, 60_000, () => logTail(apiserver.log));

    await ensureKubernetesSlice(client, plan);
    say('starting the controller-manager');
    const cm = startDetached('controller-manager', KTS, ['controller-manager', '--kubeconfig', pki.controllerManagerKubeconfig,
      '--secure-port', '0', '--bind-address', '127.0.0.1'], path.join(opts.dir, 'logs', 'controller-manager.log'));
    state.processes.push(cm);
    writeState(state);
    await images;
    say(`starting ${plan.nodes.length} node(s): ${plan.nodes.map((n) => `${n.name} (${n.ip}, pods ${n.podCidr})`).join(', ')}`);
    // Nodes come up side by side; each records its processes in lab.json as soon as they start.
    const started = await Promise.allSettled(plan.nodes.map((n) => startNode(state, pki, n, imageDir, say)));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    await addPeerRoutes(plan);

    say('waiting for every node to be Ready');
    for (const n of plan.nodes) {
      await waitUntil(`node ${n.name} Ready`, async () => {
        for (const p of state.processes.filter((x) => x.node === n.name)) checkAlive(p);
        const node = await apiGet<{ status?: { conditions?: { type: string; status: string }[] } }>(client, `/api/v1/nodes/${n.name}`);
        return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      }, 120_000, () => logTail(agentLog(plan, n.name)));
    }
  } finally {
    client.close();
  }
  state.ready = true;
  writeState(state);
  return { alreadyUp: false, state };
}
