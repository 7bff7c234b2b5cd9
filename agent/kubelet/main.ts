// kts kubelet: the node agent. Flags use the upstream names; --config reads a KubeletConfiguration.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import nodeModule from 'node:module';
import { loadConfig } from '../../client/kubeconfig.ts';
import { RestClient } from '../../client/rest.ts';
import { CriClient } from '../cri/client.ts';
import { resolveConfig, type KubeletFlags } from './config.ts';
import { Kubelet, type Logger } from './kubelet.ts';
import { RestKubeletApi } from './rest-api.ts';
import { notifyReady } from './sdnotify.ts';
import { KubeletServer } from './server.ts';
import { RuntimeOperationMetrics } from './runtime-metrics.ts';

/** The serving certificate: files when given, otherwise self-signed for this node's name and IP. */
async function servingTls(certFile: string | undefined, keyFile: string | undefined, caFile: string | undefined, nodeName: string, nodeIP: string) {
  const ca = caFile ? readFileSync(caFile, 'utf8') : undefined;
  if (certFile || keyFile) {
    if (!certFile || !keyFile) throw new Error('--tls-cert-file and --tls-private-key-file go together');
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), ca };
  }
  const { createCA, createServingCert } = await import('../../control/pki/index.ts');
  const selfCa = await createCA(`${nodeName}-ca@${Math.floor(Date.now() / 1000)}`);
  const cert = await createServingCert(selfCa, { commonName: nodeName, dnsNames: [nodeName], ips: [nodeIP, '127.0.0.1'] });
  return { cert: cert.certPem + selfCa.certPem, key: cert.keyPem, ca };
}

const log: Logger = (msg, fields) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'kubelet', msg, ...fields })}\n`);
};

export async function main(argv: string[]): Promise<void> {
  const program = new Command('kts kubelet')
    .description('node agent: registers the node and runs its pods in containerd over CRI')
    .option('--kubeconfig <path>', 'kubeconfig for the API server')
    .option('--config <path>', 'KubeletConfiguration file (kubelet.config.k8s.io/v1beta1)')
    .option('--container-runtime-endpoint <endpoint>', 'CRI socket (unix:///abs/path)')
    .option('--node-ip <ip>', 'IP address the node reports (default: first non-NAT IPv4)')
    .option('--hostname-override <name>', 'node name instead of the hostname')
    .option('--pod-manifest-path <dir>', 'directory of static pod manifests')
    .option('--root-dir <dir>', 'kubelet state directory (volumes)')
    .option('--cgroup-root <path>', 'cgroup under which kubepods/ is made')
    .option('--pod-cidr <cidr>', 'pod CIDR when no controller assigns one')
    .option('--cni-conf-dir <dir>', 'where to write the CNI config containerd reads')
    .option('--cluster-dns <ips>', 'comma-separated cluster DNS server IPs')
    .option('--cluster-domain <domain>', 'cluster DNS domain')
    .option('--node-labels <k=v,...>', 'labels to add when registering the node')
    .option('--port <port>', 'kubelet server port')
    .option('--pod-logs-dir <dir>', 'container log root (default /var/log/pods)')
    .option('--address <ip>', 'kubelet server bind address', '0.0.0.0')
    .option('--tls-cert-file <path>', 'kubelet server certificate (default: a self-signed one made at start)')
    .option('--tls-private-key-file <path>', 'kubelet server key')
    .option('--client-ca-file <path>', 'CA for client certificates presented to the kubelet server')
    .exitOverride();
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if ((err as { code?: string }).code === 'commander.helpDisplayed' || (err as { code?: string }).code === 'commander.help') return;
    throw err;
  }
  const flags = program.opts<KubeletFlags & { address: string; tlsCertFile?: string; tlsPrivateKeyFile?: string; clientCaFile?: string }>();
  const cfg = resolveConfig(flags);
  const client = new RestClient(loadConfig({ kubeconfig: cfg.kubeconfig }));
  let server: KubeletServer | undefined;
  const runtimeMetrics = new RuntimeOperationMetrics();
  const runtime = new CriClient(cfg.containerRuntimeEndpoint, { onCall: (m, ms, ok) => runtimeMetrics.observe(m, ms, ok) });
  const api = new RestKubeletApi(client, (err) => log('pod watch error', { err: (err as Error).message }));
  const kubelet = new Kubelet({ api, runtime, config: cfg, log });
  const shutdown = async (signal: string) => {
    log('shutting down', { signal });
    // Pods keep running: a kubelet restart must not restart them.
    await server?.close().catch(() => {});
    await kubelet.stop();
    runtime.close();
    client.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.on('unhandledRejection', (err) => log('unhandled rejection', { err: String(err) }));
  await kubelet.start();
  server = new KubeletServer({ kubelet, port: cfg.port, address: flags.address, registry: runtimeMetrics.registry,
    tls: await servingTls(flags.tlsCertFile, flags.tlsPrivateKeyFile, flags.clientCaFile, cfg.nodeName, kubelet.nodeIP) });
  const port = await server.listen();
  log('kubelet started', { node: cfg.nodeName, nodeIP: kubelet.nodeIP, runtime: cfg.containerRuntimeEndpoint, port });
  // With NODE_COMPILE_CACHE set, write the cache now: a daemon may never exit cleanly, and the next start
  // then skips type stripping (agent/kubelet/README.md, "Memory").
  nodeModule.flushCompileCache?.(); // absent before Node 22.10
  await notifyReady(`node ${cfg.nodeName} registered`);
  await new Promise(() => {});
}
