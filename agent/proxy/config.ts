// kube-proxy configuration: a KubeProxyConfiguration file (kubeproxy.config.k8s.io/v1alpha1) overlaid by
// the upstream flags that were given explicitly. Pure: parse and validate, no I/O.
import { parse as parseYaml } from 'yaml';
import { isIPv4CIDR } from './ip.ts';
import { isScheduler, schedulers } from './ipvs/render.ts';

export type ProxyMode = 'iptables' | 'ipvs';

export interface ProxyConfig {
  kubeconfig: string;
  master: string;
  mode: ProxyMode;
  clusterCIDR: string;
  hostnameOverride: string;
  nodePortAddresses: string[];
  ipvsScheduler: string;
  syncPeriodMs: number;
  minSyncPeriodMs: number;
  masqueradeAll: boolean;
  masqueradeBit: number;
  healthzBindAddress: string;
  metricsBindAddress: string;
}

export const defaultConfig: ProxyConfig = {
  kubeconfig: '', master: '', mode: 'iptables', clusterCIDR: '', hostnameOverride: '', nodePortAddresses: [],
  ipvsScheduler: 'rr', syncPeriodMs: 30_000, minSyncPeriodMs: 1_000, masqueradeAll: false, masqueradeBit: 14,
  healthzBindAddress: '0.0.0.0:10256', metricsBindAddress: '127.0.0.1:10249',
};

/** Go duration ("30s", "1m0s", "500ms", "1h") to milliseconds. */
export function parseDuration(s: string, field: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) { total += Number(m[1]) * units[m[2]!]!; matched = re.lastIndex; }
  if (s === '0') return 0;
  if (matched === 0 || matched !== s.length) throw new Error(`${field}: "${s}" is not a duration (like 30s, 1m0s, 500ms)`);
  return total;
}

export function validate(c: ProxyConfig): ProxyConfig {
  const bad: string[] = [];
  if (c.mode !== 'iptables' && c.mode !== 'ipvs') bad.push(`mode: "${c.mode}" must be iptables or ipvs`);
  if (c.clusterCIDR && !isIPv4CIDR(c.clusterCIDR)) bad.push(`clusterCIDR: "${c.clusterCIDR}" is not an IPv4 CIDR`);
  for (const a of c.nodePortAddresses) if (!isIPv4CIDR(a)) bad.push(`nodePortAddresses: "${a}" is not an IPv4 CIDR`);
  if (!isScheduler(c.ipvsScheduler)) bad.push(`ipvs.scheduler: "${c.ipvsScheduler}" is not one of ${schedulers.join(', ')}`);
  if (!(c.syncPeriodMs > 0)) bad.push('syncPeriod: must be greater than 0');
  if (c.minSyncPeriodMs < 0) bad.push('minSyncPeriod: must not be negative');
  if (!Number.isInteger(c.masqueradeBit) || c.masqueradeBit < 0 || c.masqueradeBit > 31) bad.push(`iptables.masqueradeBit: ${c.masqueradeBit} must be in 0-31`);
  if (bad.length) throw new Error(`invalid kube-proxy configuration: ${bad.join('; ')}`);
  return c;
}

interface KubeProxyConfigurationFile {
  apiVersion?: string;
  kind?: string;
  clientConnection?: { kubeconfig?: string };
  mode?: string;
  clusterCIDR?: string;
  hostnameOverride?: string;
  nodePortAddresses?: string[];
  healthzBindAddress?: string;
  metricsBindAddress?: string;
  iptables?: { masqueradeAll?: boolean; masqueradeBit?: number; syncPeriod?: string; minSyncPeriod?: string };
  ipvs?: { scheduler?: string; syncPeriod?: string; minSyncPeriod?: string };
}

/** A KubeProxyConfiguration document over the defaults. */
export function parseConfigFile(text: string, base: ProxyConfig = defaultConfig): ProxyConfig {
  const doc = (parseYaml(text) ?? {}) as KubeProxyConfigurationFile;
  if (typeof doc !== 'object') throw new Error('kube-proxy config: not a YAML mapping');
  if (doc.kind !== undefined && doc.kind !== 'KubeProxyConfiguration') throw new Error(`kube-proxy config: kind "${doc.kind}" is not KubeProxyConfiguration`);
  if (doc.apiVersion !== undefined && doc.apiVersion !== 'kubeproxy.config.k8s.io/v1alpha1') throw new Error(`kube-proxy config: apiVersion "${doc.apiVersion}" is not kubeproxy.config.k8s.io/v1alpha1`);
  const c: ProxyConfig = { ...base };
  if (doc.clientConnection?.kubeconfig) c.kubeconfig = doc.clientConnection.kubeconfig;
  if (doc.mode) c.mode = doc.mode as ProxyMode;
  if (doc.clusterCIDR) c.clusterCIDR = doc.clusterCIDR;
  if (doc.hostnameOverride) c.hostnameOverride = doc.hostnameOverride;
  if (doc.nodePortAddresses) c.nodePortAddresses = doc.nodePortAddresses;
  if (doc.healthzBindAddress) c.healthzBindAddress = doc.healthzBindAddress;
  if (doc.metricsBindAddress) c.metricsBindAddress = doc.metricsBindAddress;
  const periods = c.mode === 'ipvs' ? doc.ipvs : doc.iptables;
  if (periods?.syncPeriod) c.syncPeriodMs = parseDuration(periods.syncPeriod, 'syncPeriod');
  if (periods?.minSyncPeriod) c.minSyncPeriodMs = parseDuration(periods.minSyncPeriod, 'minSyncPeriod');
  if (doc.iptables?.masqueradeAll !== undefined) c.masqueradeAll = doc.iptables.masqueradeAll;
  if (doc.iptables?.masqueradeBit !== undefined) c.masqueradeBit = doc.iptables.masqueradeBit;
  if (doc.ipvs?.scheduler) c.ipvsScheduler = doc.ipvs.scheduler;
  return c;
}

/** Flags given on the command line, by upstream name; undefined when not given. */
export interface ProxyFlags {
  kubeconfig?: string;
  master?: string;
  proxyMode?: string;
  clusterCidr?: string;
  hostnameOverride?: string;
  nodeportAddresses?: string;
  ipvsScheduler?: string;
  iptablesSyncPeriod?: string;
  iptablesMinSyncPeriod?: string;
  masqueradeAll?: boolean;
  iptablesMasqueradeBit?: string;
  healthzBindAddress?: string;
  metricsBindAddress?: string;
}

export function applyFlags(base: ProxyConfig, f: ProxyFlags): ProxyConfig {
  const c = { ...base };
  if (f.kubeconfig !== undefined) c.kubeconfig = f.kubeconfig;
  if (f.master !== undefined) c.master = f.master;
  if (f.proxyMode) c.mode = f.proxyMode as ProxyMode;
  if (f.clusterCidr !== undefined) c.clusterCIDR = f.clusterCidr;
  if (f.hostnameOverride !== undefined) c.hostnameOverride = f.hostnameOverride;
  if (f.nodeportAddresses !== undefined) c.nodePortAddresses = f.nodeportAddresses.split(',').map((s) => s.trim()).filter(Boolean);
  if (f.ipvsScheduler) c.ipvsScheduler = f.ipvsScheduler;
  if (f.iptablesSyncPeriod) c.syncPeriodMs = parseDuration(f.iptablesSyncPeriod, '--iptables-sync-period');
  if (f.iptablesMinSyncPeriod) c.minSyncPeriodMs = parseDuration(f.iptablesMinSyncPeriod, '--iptables-min-sync-period');
  if (f.masqueradeAll !== undefined) c.masqueradeAll = f.masqueradeAll;
  if (f.iptablesMasqueradeBit !== undefined) c.masqueradeBit = Number(f.iptablesMasqueradeBit);
  if (f.healthzBindAddress !== undefined) c.healthzBindAddress = f.healthzBindAddress;
  if (f.metricsBindAddress !== undefined) c.metricsBindAddress = f.metricsBindAddress;
  return c;
}
