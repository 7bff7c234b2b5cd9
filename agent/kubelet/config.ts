// Kubelet configuration: upstream flag names over a KubeletConfiguration YAML file over defaults.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parse } from 'yaml';
import { DEFAULT_KUBELET_CONFIG, type KubeletConfig } from './kubelet.ts';
import { parseEvictionHard } from './pressure.ts';

export interface KubeletFlags {
  kubeconfig?: string;
  config?: string;
  containerRuntimeEndpoint?: string;
  nodeIp?: string;
  hostnameOverride?: string;
  podManifestPath?: string;
  rootDir?: string;
  cgroupRoot?: string;
  podCidr?: string;
  cniConfDir?: string;
  clusterDns?: string;
  clusterDomain?: string;
  nodeLabels?: string;
  port?: string;
  podLogsDir?: string;
}

export interface ResolvedKubeletConfig extends KubeletConfig {
  kubeconfig?: string;
  containerRuntimeEndpoint: string;
  staticPodPath?: string;
}

export const DEFAULT_RUNTIME_ENDPOINT = 'unix:///run/containerd/containerd.sock';
export const DEFAULT_CNI_CONF_DIR = '/etc/cni/net.d';

/** Durations in KubeletConfiguration ("10s", "1m30s", "500ms") to ms. */
export function parseDuration(value: unknown, field: string): number {
  if (typeof value === 'number') return value * 1000;
  const s = String(value);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let matched = '';
  for (const m of s.matchAll(re)) {
    matched += m[0];
    total += Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[m[2]!]!;
  }
  if (!s || matched !== s) throw new Error(`${field}: invalid duration "${s}" (want e.g. 10s, 1m30s)`);
  return total;
}

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq === 0) throw new Error(`--node-labels: invalid label "${part}"`);
    if (eq < 0) out[part] = '';
    else out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** Reads a KubeletConfiguration (kubelet.config.k8s.io/v1beta1) into our config shape. */
export function parseKubeletConfiguration(text: string, file = 'config'): Partial<ResolvedKubeletConfig> {
  let doc: Record<string, unknown>;
  try {
    doc = (parse(text) ?? {}) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: not valid YAML: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${file}: expected a KubeletConfiguration object`);
  if (doc.kind !== undefined && doc.kind !== 'KubeletConfiguration') throw new Error(`${file}: kind is "${doc.kind}", want KubeletConfiguration`);
  if (doc.apiVersion !== undefined && doc.apiVersion !== 'kubelet.config.k8s.io/v1beta1') {
    throw new Error(`${file}: apiVersion is "${doc.apiVersion}", want kubelet.config.k8s.io/v1beta1`);
  }
  const out: Partial<ResolvedKubeletConfig> = {};
  const str = (k: string) => {
    const v = doc[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new Error(`${file}: ${k} must be a string`);
    return v;
  };
  if (doc.clusterDNS !== undefined) {
    if (!Array.isArray(doc.clusterDNS) || doc.clusterDNS.some((x) => typeof x !== 'string')) throw new Error(`${file}: clusterDNS must be a list of IPs`);
    out.clusterDNS = doc.clusterDNS as string[];
  }
  if (str('clusterDomain')) out.clusterDomain = str('clusterDomain');
  if (str('podCIDR')) out.podCIDR = str('podCIDR');
  if (str('staticPodPath')) out.staticPodPath = str('staticPodPath');
  if (str('cgroupRoot')) out.cgroupRoot = str('cgroupRoot');
  if (str('containerRuntimeEndpoint')) out.containerRuntimeEndpoint = str('containerRuntimeEndpoint');
  if (str('podLogsDir')) out.logRoot = str('podLogsDir');
  if (doc.port !== undefined) out.port = Number(doc.port);
  if (doc.maxPods !== undefined) out.maxPods = Number(doc.maxPods);
  if (doc.nodeStatusUpdateFrequency !== undefined) out.statusIntervalMs = parseDuration(doc.nodeStatusUpdateFrequency, 'nodeStatusUpdateFrequency');
  if (doc.syncFrequency !== undefined) out.resyncPeriodMs = parseDuration(doc.syncFrequency, 'syncFrequency');
  if (doc.nodeLabels !== undefined) out.nodeLabels = doc.nodeLabels as Record<string, string>;
  if (doc.evictionHard !== undefined) {
    if (typeof doc.evictionHard !== 'object' || doc.evictionHard === null || Array.isArray(doc.evictionHard)) {
      throw new Error(`${file}: evictionHard must be a map of signal to threshold`);
    }
    // As upstream: a map given replaces the defaults as a whole.
    out.evictionHard = parseEvictionHard(doc.evictionHard as Record<string, unknown>, `${file}: evictionHard`);
  }
  return out;
}

export function resolveConfig(flags: KubeletFlags): ResolvedKubeletConfig {
  const file = flags.config ? parseKubeletConfiguration(readFileSync(flags.config, 'utf8'), flags.config) : {};
  const hostname = (flags.hostnameOverride ?? os.hostname()).toLowerCase();
  const cfg: ResolvedKubeletConfig = {
    ...DEFAULT_KUBELET_CONFIG,
    containerRuntimeEndpoint: DEFAULT_RUNTIME_ENDPOINT,
    cniConfDir: DEFAULT_CNI_CONF_DIR,
    ...file,
    nodeName: hostname,
    hostname,
  };
  if (flags.kubeconfig) cfg.kubeconfig = flags.kubeconfig;
  if (flags.containerRuntimeEndpoint) cfg.containerRuntimeEndpoint = flags.containerRuntimeEndpoint;
  if (flags.nodeIp) cfg.nodeIP = flags.nodeIp;
  if (flags.podManifestPath) cfg.staticPodPath = flags.podManifestPath;
  if (flags.rootDir) cfg.rootDir = flags.rootDir;
  if (flags.cgroupRoot) cfg.cgroupRoot = flags.cgroupRoot;
  if (flags.podCidr) cfg.podCIDR = flags.podCidr;
  if (flags.cniConfDir) cfg.cniConfDir = flags.cniConfDir;
  if (flags.clusterDns) cfg.clusterDNS = flags.clusterDns.split(',').map((s) => s.trim()).filter(Boolean);
  if (flags.clusterDomain) cfg.clusterDomain = flags.clusterDomain;
  if (flags.nodeLabels) cfg.nodeLabels = { ...cfg.nodeLabels, ...parseLabels(flags.nodeLabels) };
  if (flags.port) cfg.port = Number(flags.port);
  if (flags.podLogsDir) cfg.logRoot = flags.podLogsDir;
  if (!Number.isInteger(cfg.port) || cfg.port < 0 || cfg.port > 65535) throw new Error(`invalid port "${cfg.port}"`);
  return cfg;
}
