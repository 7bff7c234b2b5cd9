// `kts controller-manager`: kube-controller-manager with upstream flag names.
import { Command } from 'commander';
import pino from 'pino';
import { startHealthServer } from './health.ts';
import { startControllerManager } from './index.ts';

function positiveInt(flag: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`${flag}: "${v}" is not a positive integer`);
    return Number(v);
  };
}

function bool(flag: string) {
  return (v: string): boolean => {
    if (v === 'true' || v === '') return true;
    if (v === 'false') return false;
    throw new Error(`${flag}: "${v}" is not true or false`);
  };
}

export interface ControllerManagerFlags {
  kubeconfig?: string;
  master?: string;
  controllers: string;
  leaderElect: boolean;
  concurrentDeploymentSyncs: number;
  concurrentReplicasetSyncs: number;
  bindAddress: string;
  securePort: number;
}

export function parseFlags(argv: string[]): ControllerManagerFlags {
  const program = new Command('kts controller-manager')
    .description('kube-controller-manager: runs the deployment and replicaset controllers')
    .option('--kubeconfig <path>', 'kubeconfig file with the API server and credentials')
    .option('--master <url>', 'API server URL (overrides the kubeconfig)')
    .option('--controllers <list>', 'controllers to enable: "*" for all, "name" to enable, "-name" to disable', '*')
    .option('--leader-elect [bool]', 'hold the Lease kube-system/kube-controller-manager before running controllers', bool('--leader-elect'), true)
    .option('--concurrent-deployment-syncs <n>', 'deployments synced at once', positiveInt('--concurrent-deployment-syncs'), 5)
    .option('--concurrent-replicaset-syncs <n>', 'replica sets synced at once', positiveInt('--concurrent-replicaset-syncs'), 5)
    .option('--bind-address <ip>', 'address of the /healthz server', '0.0.0.0')
    .option('--secure-port <port>', 'port of the /healthz server (plain HTTP in kts; 0 = any free port)', (v) => {
      if (!/^\d+$/.test(v) || Number(v) > 65535) throw new Error(`--secure-port: "${v}" is not a port number`);
      return Number(v);
    }, 10257)
    .exitOverride();
  program.parse(argv, { from: 'user' });
  return program.opts<ControllerManagerFlags>();
}

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags(argv);
  const log = pino({ name: 'kube-controller-manager' });
  const cm = startControllerManager({
    kubeconfig: flags.kubeconfig, master: flags.master,
    controllers: [flags.controllers], leaderElect: flags.leaderElect,
    workers: { deployment: flags.concurrentDeploymentSyncs, replicaset: flags.concurrentReplicasetSyncs },
    log: (msg, fields) => log.info(fields ?? {}, msg),
    onLeadershipLost: () => {
      log.error('leaderelection lost');
      process.exit(1);
    },
  });
  let isReady = false;
  cm.ready.then(() => { isReady = true; }, () => {});
  const health = await startHealthServer(flags.bindAddress, flags.securePort, () => isReady);
  log.info({ controllers: cm.controllers, healthz: `${health.url}/healthz`, leaderElect: flags.leaderElect }, 'serving');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await cm.stop();
  await health.close();
}
