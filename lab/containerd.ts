// One containerd per node, inside the node's netns, with its own root, state, socket, runc root and CNI dir.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PAUSE_IMAGE } from '../agent/images/build.ts';
import type { NodePlan } from './plan.ts';

export function nodePaths(n: NodePlan) {
  return {
    config: path.join(n.dir, 'containerd.toml'),
    socket: path.join(n.dir, 'containerd.sock'),
    startScript: path.join(n.dir, 'start-containerd.sh'),
    cniConfDir: path.join(n.dir, 'cni', 'net.d'),
    kubeletRoot: path.join(n.dir, 'kubelet'),
    podLogs: path.join(n.dir, 'pods'),
  };
}

/** The containerd config every kts node runs with (lab and test harness alike). */
export function containerdConfig(dir: string, cniConfDir: string, streamAddress: string): string {
  // restrict_oom_score_adj is required on these hosts (no CAP_SYS_RESOURCE: linux-host-facts P1); pod netns
  // mounts stay under the state dir; cgroupfs driver so the kubelet's cgroup_parent is a plain path.
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
[debug]
  address = "${dir}/debug.sock"
  level = "info"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  stream_server_address = "${streamAddress}"
  stream_server_port = "0"
  disable_apparmor = true
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "${dir}/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cniConfDir}"
    max_conf_num = 1
`;
}

// `ip netns exec` mounts a fresh /sys in a private mount namespace: the cgroup hierarchies must be mounted
// again there before containerd and runc can find them (linux-host-facts P3). The mounts do not leak to the host.
/** Start script run under `ip netns exec`: remount cgroups, then exec containerd with the config path in $1. */
export const CONTAINERD_START_SCRIPT = `#!/bin/bash
set -e
mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
for c in cpu cpuacct cpuset memory devices freezer blkio pids; do
  mkdir -p /sys/fs/cgroup/$c; mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
done
mkdir -p /sys/fs/cgroup/systemd; mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
mkdir -p /sys/fs/cgroup/unified; mount -t cgroup2 none /sys/fs/cgroup/unified
exec containerd --config "$1"
`;

/** Writes the config and start script; returns the command line to run inside the netns. */
export function prepareContainerd(n: NodePlan): { cmd: string; args: string[] } {
  const p = nodePaths(n);
  mkdirSync(p.cniConfDir, { recursive: true });
  mkdirSync(p.kubeletRoot, { recursive: true });
  mkdirSync(p.podLogs, { recursive: true });
  writeFileSync(p.config, containerdConfig(n.dir, p.cniConfDir, n.ip));
  writeFileSync(p.startScript, CONTAINERD_START_SCRIPT, { mode: 0o755 });
  return { cmd: 'ip', args: ['netns', 'exec', n.netns, 'bash', p.startScript, p.config] };
}
