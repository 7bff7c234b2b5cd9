// The lab's wiring: a host bridge, one netns per node joined to it by a veth pair, host routes to every
// pod CIDR via its node, and host-gw routes between nodes so pods on different nodes reach each other.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { LabPlan, NodePlan } from './plan.ts';

const run = promisify(execFile);

export async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { timeout: 30_000 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr || e.message).trim()}`);
  }
}

export async function linkExists(name: string): Promise<boolean> {
  return ip('link', 'show', 'dev', name).then(() => true, () => false);
}

export async function netnsExists(name: string): Promise<boolean> {
  const list = await ip('netns', 'list').catch(() => '');
  return list.split('\n').some((l) => l.split(' ')[0] === name);
}

export async function createBridge(plan: LabPlan): Promise<void> {
  const br = plan.options.bridge;
  await ip('link', 'add', br, 'type', 'bridge');
  await ip('addr', 'add', `${plan.bridgeIP}/${plan.nodePrefix}`, 'dev', br);
  await ip('link', 'set', br, 'up');
}

/** netns + veth + addresses + forwarding; containerd and the pods come later. */
export async function createNodeNetwork(plan: LabPlan, n: NodePlan): Promise<void> {
  await ip('netns', 'add', n.netns);
  await ip('-n', n.netns, 'link', 'set', 'lo', 'up');
  await ip('link', 'add', n.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.netns);
  await ip('link', 'set', n.hostVeth, 'master', plan.options.bridge, 'up');
  await ip('-n', n.netns, 'addr', 'add', `${n.ip}/${plan.nodePrefix}`, 'dev', 'eth0');
  await ip('-n', n.netns, 'link', 'set', 'eth0', 'up');
  // A default route via the host: the node's own connections to ClusterIPs must be routed before OUTPUT DNAT.
  await ip('-n', n.netns, 'route', 'add', 'default', 'via', plan.bridgeIP);
  await ip('netns', 'exec', n.netns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  // The kubelet's bridge CNI config masquerades pod traffic leaving the node; pods must see each other's real
  // addresses, so pod-to-pod traffic skips that (what flannel does; linux-host-facts P5). Inserted first, before
  // the per-pod CNI rules the plugin appends later.
  const pods = plan.options.podCidr;
  await ip('netns', 'exec', n.netns, 'iptables', '-w', '-t', 'nat', '-I', 'POSTROUTING', '1', '-s', pods, '-d', pods,
    '-m', 'comment', '--comment', 'kts lab: pod-to-pod traffic keeps its source', '-j', 'RETURN');
  await ip('route', 'add', n.podCidr, 'via', n.ip, 'dev', plan.options.bridge);
}

/** host-gw: every node routes every other node's pod CIDR via that node's address. */
export async function addPeerRoutes(plan: LabPlan): Promise<void> {
  for (const a of plan.nodes) {
    for (const b of plan.nodes) {
      if (a !== b) await ip('-n', a.netns, 'route', 'add', b.podCidr, 'via', b.ip, 'dev', 'eth0');
    }
  }
}

/** Removes routes, netns, veths and the bridge; every step tolerates a thing already gone. */
export async function removeNetwork(plan: LabPlan): Promise<void> {
  for (const n of plan.nodes) {
    await ip('route', 'del', n.podCidr, 'via', n.ip).catch(() => {});
    if (await netnsExists(n.netns)) await ip('netns', 'del', n.netns);
    await deleteLink(n.hostVeth); // usually already gone with its peer in the netns, but the kernel does that lazily
  }
  await deleteLink(plan.options.bridge);
}

async function deleteLink(name: string): Promise<void> {
  try {
    await ip('link', 'del', name);
  } catch (err) {
    if (await linkExists(name)) throw err;
  }
}

/** PIDs of processes whose network namespace is the node's (shims, pods, stragglers). */
export async function netnsPids(netns: string): Promise<number[]> {
  const out = await ip('netns', 'pids', netns).catch(() => '');
  return out.split(/\s+/).filter(Boolean).map(Number).filter((p) => Number.isInteger(p) && p > 0);
}
