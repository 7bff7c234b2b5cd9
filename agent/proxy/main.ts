// `kts proxy`: kube-proxy. Watches Services and EndpointSlices and programs this node's kernel, in iptables
// mode (default) or ipvs mode (falling back to iptables, loudly, when the kernel has no IP_VS).
import { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import nodeModule from 'node:module';
import { hostname, networkInterfaces } from 'node:os';
import pino from 'pino';
import { applyFlags, defaultConfig, parseConfigFile, validate } from './config.ts';
import type { ProxyConfig, ProxyFlags } from './config.ts';
import { hostExecutor } from './exec.ts';
import type { Executor } from './exec.ts';
import { Proxier } from './proxier.ts';
import type { ProxyBackend, ProxySource } from './proxier.ts';
import { detectVariant } from './iptables/apply.ts';
import { IptablesBackend } from './iptables/backend.ts';
import { IpvsBackend, ipvsAvailable } from './ipvs/apply.ts';
import { startServers } from './server.ts';
import { inCidr } from './ip.ts';
import { defaultNodeInfo } from './types.ts';
import { ServiceEventRecorder } from './events.ts';
import type { EventSink } from './events.ts';
import type { CoreV1Event } from '@kubernetes/client-node';

type Log = pino.Logger;

/** This node's IPv4 addresses (non-loopback), limited to --nodeport-addresses when given. */
export function nodeAddresses(cidrs: string[]): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family !== 'IPv4' || a.internal) continue;
      if (cidrs.length === 0 || cidrs.some((c) => inCidr(a.address, c))) out.push(a.address);
    }
  }
  return out;
}

export interface ProxyDeps {
  source: ProxySource;
  /** Where Warning events about skipped Services go (the API in production). */
  events?: EventSink;
  exec?: Executor;
  log?: Log;
  /** Where /proc/net/ip_vs would be (tests point it elsewhere). */
  ipvsProcFile?: string;
}

export interface RunningProxy {
  proxier: Proxier;
  mode: 'iptables' | 'ipvs';
  healthz: string;
  metrics: string;
  stop(): Promise<void>;
}

/** Pick the backend, start the proxier, the HTTP endpoints and the event source. */
export async function runProxy(cfg: ProxyConfig, deps: ProxyDeps): Promise<RunningProxy> {
  const log = deps.log ?? pino({ name: 'kube-proxy' });
  const exec = deps.exec ?? hostExecutor();
  const nodeName = (cfg.hostnameOverride || hostname()).toLowerCase();
  const variant = await detectVariant(exec);
  let mode = cfg.mode;
  if (mode === 'ipvs') {
    const ipvs = await ipvsAvailable(exec, deps.ipvsProcFile);
    if (!ipvs.ok) {
      log.error({ reason: ipvs.reason }, 'can\'t use the IPVS proxier: falling back to iptables mode');
      mode = 'iptables';
    }
  }
  const warn = (msg: string) => log.warn(msg);
  const backend: ProxyBackend = mode === 'ipvs'
    ? new IpvsBackend({ exec, variant, scheduler: cfg.ipvsScheduler, nodeIPs: nodeAddresses(cfg.nodePortAddresses), warn })
    : new IptablesBackend({ exec, variant, warn });
  log.info({ mode, iptables: variant, nodeName, clusterCIDR: cfg.clusterCIDR || null }, 'starting kube-proxy');
  if (!cfg.clusterCIDR && !cfg.masqueradeAll) log.warn('no --cluster-cidr: traffic to ClusterIPs from outside the cluster will not be masqueraded');
  const recorder = deps.events ? new ServiceEventRecorder(deps.events, nodeName) : null;
  const proxier = new Proxier({
    nodeName, backend, log,
    onInvalidService: (svc, message) => {
      void recorder?.invalid(svc, message).then((err) => { if (err) log.warn({ err: err.message }, 'could not post event'); });
    },
    node: defaultNodeInfo({ clusterCIDR: cfg.clusterCIDR, nodePortAddresses: cfg.nodePortAddresses, masqueradeAll: cfg.masqueradeAll, masqueradeBit: cfg.masqueradeBit }),
    minSyncPeriodMs: cfg.minSyncPeriodMs, syncPeriodMs: cfg.syncPeriodMs,
  });
  const servers = await startServers({ proxier, startedAt: Date.now(), syncPeriodMs: cfg.syncPeriodMs, mode }, cfg.healthzBindAddress, cfg.metricsBindAddress);
  const started = deps.source.start(proxier).catch((err: unknown) => log.error({ err: String(err) }, 'event source failed'));
  return {
    proxier, mode, healthz: servers.healthz, metrics: servers.metrics,
    async stop() {
      proxier.stop();
      await deps.source.stop();
      await started;
      await proxier.runner.idle();
      await servers.close();
    },
  };
}

export async function resolveConfig(argv: string[]): Promise<ProxyConfig> {
  const program = new Command('kts proxy')
    .description('kube-proxy: Services in iptables or ipvs')
    .option('--kubeconfig <path>', 'kubeconfig file with the API server and credentials')
    .option('--master <url>', 'API server URL (overrides the kubeconfig)')
    .option('--config <path>', 'KubeProxyConfiguration file (kubeproxy.config.k8s.io/v1alpha1)')
    .option('--proxy-mode <mode>', 'iptables (default) or ipvs')
    .option('--cluster-cidr <cidr>', 'pod CIDR of the cluster; traffic from outside it to ClusterIPs is masqueraded')
    .option('--hostname-override <name>', 'node name to use instead of the hostname')
    .option('--nodeport-addresses <cidrs>', 'comma-separated CIDRs; NodePorts only on node addresses inside them')
    .option('--ipvs-scheduler <name>', 'ipvs scheduler: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, ...')
    .option('--iptables-sync-period <duration>', 'full resync period (default 30s)')
    .option('--iptables-min-sync-period <duration>', 'minimum time between syncs (default 1s)')
    .option('--masquerade-all', 'masquerade all traffic to service IPs')
    .option('--iptables-masquerade-bit <bit>', 'fwmark bit for masquerade (default 14)')
    .option('--healthz-bind-address <host:port>', 'healthz server address (default 0.0.0.0:10256)')
    .option('--metrics-bind-address <host:port>', 'metrics server address (default 127.0.0.1:10249)')
    .exitOverride();
  program.parse(argv, { from: 'user' });
  const opts = program.opts<ProxyFlags & { config?: string }>();
  let cfg = defaultConfig;
  if (opts.config) cfg = parseConfigFile(await readFile(opts.config, 'utf8'));
  return validate(applyFlags(cfg, opts));
}

export async function main(argv: string[]): Promise<void> {
  const cfg = await resolveConfig(argv);
  const log = pino({ name: 'kube-proxy' });
  const { RestClient, loadConfig, resources } = await import('../../client/index.ts');
  const { ApiSource } = await import('./apisource.ts');
  const client = new RestClient(loadConfig({ kubeconfig: cfg.kubeconfig || undefined, master: cfg.master || undefined }));
  const source = new ApiSource(client, (err, what) => log.warn({ err: String(err), what }, 'watch error'));
  const events = { create: (namespace: string, event: CoreV1Event) => client.create({ ...resources.events, namespace }, event) };
  const running = await runProxy(cfg, { source, log, events });
  log.info({ healthz: running.healthz, metrics: running.metrics }, 'serving');
  // With NODE_COMPILE_CACHE set, write the cache now rather than at an exit that may never come cleanly.
  nodeModule.flushCompileCache?.(); // absent before Node 22.10
  await new Promise<void>((resolve) => {
    const bye = () => resolve();
    process.once('SIGTERM', bye);
    process.once('SIGINT', bye);
  });
  await running.stop();
}
