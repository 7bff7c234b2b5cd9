// kts: one multicall CLI, one subcommand per component. Each component's main module exports
// `main(argv)`, and is loaded only when asked for so that `kts proxy` does not pay for the apiserver.
const commands: Record<string, { module: string; about: string }> = {
  etcd: { module: '../control/etcd/main.ts', about: 'Raft-replicated key-value store speaking the etcd v3 API' },
  apiserver: { module: '../control/apiserver/main.ts', about: 'Kubernetes REST and watch API over etcd' },
  'controller-manager': { module: '../control/controller-manager/main.ts', about: 'kube-controller-manager: deployment and replicaset controllers' },
  kubelet: { module: '../agent/kubelet/main.ts', about: 'node agent: runs pods in containerd over CRI' },
  proxy: { module: '../agent/proxy/main.ts', about: 'kube-proxy: Services in iptables or ipvs' },
  agent: { module: '../agent/kubelet/agent.ts', about: 'kubelet and kube-proxy in one process: kts agent <kubelet flags> -- <proxy flags>' },
  images: { module: '../agent/images/main.ts', about: 'build the pause and busybox images and import them into containerd' },
  lab: { module: '../lab/main.ts', about: 'a whole cluster on this machine: kts lab up | down | status' },
  pki: { module: '../control/pki/main.ts', about: 'write a cluster CA, apiserver serving certificate and admin kubeconfig' },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return ['usage: kts <command> [flags]', '', 'commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.about}`)].join('\n');
}

const [name, ...rest] = process.argv.slice(2);
if (!name || name === '-h' || name === '--help') {
  console.log(usage());
  process.exit(name ? 0 : 2);
}
const command = commands[name];
if (!command) {
  console.error(`kts: unknown command "${name}"\n\n${usage()}`);
  process.exit(2);
}
const mod = (await import(command.module)) as { main: (argv: string[]) => Promise<void> };
try {
  await mod.main(rest);
} catch (err) {
  console.error(`kts ${name}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
