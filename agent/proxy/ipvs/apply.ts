// Applying the ipvs mode: check the kernel has IP_VS, keep the kube-ipvs0 dummy interface holding exactly
// the service addresses, rebuild the ipsets, send ipvsadm-restore only the difference between the kernel's
// table (ipvsadm-save -n) and the desired one, and load the constant iptables rules.
import { access } from 'node:fs/promises';
import type { Executor } from '../exec.ts';
import type { ProxyBackend, SyncRequest } from '../proxier.ts';
import type { StaleEndpoints } from '../conntrack.ts';
import { flushStaleUDP } from '../conntrack.ts';
import { IptablesApplier } from '../iptables/apply.ts';
import type { IptablesVariant } from '../iptables/apply.ts';
import { dummyInterface, render, virtualServerId, virtualServerLines } from './render.ts';
import type { IpvsRenderResult, VirtualServer } from './render.ts';

/** Is IP_VS usable here? /proc/net/ip_vs exists once the module is loaded (or built in); try modprobe once. */
export async function ipvsAvailable(exec: Executor, procFile = '/proc/net/ip_vs'): Promise<{ ok: boolean; reason: string }> {
  const present = () => access(procFile).then(() => true, () => false);
  if (await present()) return { ok: true, reason: '' };
  const m = await exec.run('modprobe', ['-q', 'ip_vs']);
  if (m.exitCode === 0 && (await present())) return { ok: true, reason: '' };
  return { ok: false, reason: `${procFile} is missing and "modprobe ip_vs" failed (exit ${m.exitCode}${m.stderr.trim() ? `: ${m.stderr.trim()}` : ''}): the kernel has no IP_VS` };
}

const flagProto: Record<string, VirtualServer['protocol']> = { '-t': 'TCP', '-u': 'UDP', '--sctp-service': 'SCTP' };

function splitHostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i), Number(s.slice(i + 1))];
}

/** Parse `ipvsadm-save -n` (or a restore payload) into virtual servers. */
export function parseIpvsadm(text: string): VirtualServer[] {
  const byId = new Map<string, VirtualServer>();
  for (const line of text.split('\n')) {
    const tok = line.trim().split(/\s+/);
    if (tok[0] !== '-A' && tok[0] !== '-a') continue;
    const protocol = flagProto[tok[1]!];
    if (!protocol) continue;
    const [address, port] = splitHostPort(tok[2]!);
    const id = virtualServerId({ protocol, address, port });
    const opt = (flag: string) => { const i = tok.indexOf(flag); return i >= 0 ? tok[i + 1] : undefined; };
    if (tok[0] === '-A') {
      byId.set(id, { protocol, address, port, scheduler: opt('-s') ?? 'wlc', persistence: Number(opt('-p') ?? 0), realServers: [] });
    } else {
      const vs = byId.get(id);
      const [rAddr, rPort] = splitHostPort(opt('-r') ?? ':0');
      vs?.realServers.push({ address: rAddr, port: rPort, weight: Number(opt('-w') ?? 1) });
    }
  }
  return [...byId.values()];
}

/** ipvsadm-restore lines that turn `current` into `desired`. */
export function diffIpvs(current: VirtualServer[], desired: VirtualServer[]): string[] {
  const out: string[] = [];
  const cur = new Map(current.map((v) => [virtualServerId(v), v]));
  const want = new Map(desired.map((v) => [virtualServerId(v), v]));
  for (const [id] of cur) if (!want.has(id)) out.push(`-D ${id}`);
  for (const [id, vs] of want) {
    const had = cur.get(id);
    if (!had) { out.push(...virtualServerLines(vs)); continue; }
    if (had.scheduler !== vs.scheduler || had.persistence !== vs.persistence) {
      out.push(`-E ${id} -s ${vs.scheduler}${vs.persistence > 0 ? ` -p ${vs.persistence}` : ''}`);
    }
    const rsKey = (r: { address: string; port: number }) => `${r.address}:${r.port}`;
    const hadRs = new Map(had.realServers.map((r) => [rsKey(r), r]));
    const wantRs = new Map(vs.realServers.map((r) => [rsKey(r), r]));
    for (const [k] of hadRs) if (!wantRs.has(k)) out.push(`-d ${id} -r ${k}`);
    for (const [k, r] of wantRs) {
      const h = hadRs.get(k);
      if (!h) out.push(`-a ${id} -r ${k} -m -w ${r.weight}`);
      else if (h.weight !== r.weight) out.push(`-e ${id} -r ${k} -m -w ${r.weight}`);
    }
  }
  return out;
}

export function diffAddresses(current: string[], desired: string[]): { add: string[]; del: string[] } {
  const c = new Set(current);
  const d = new Set(desired);
  return { add: desired.filter((a) => !c.has(a)), del: current.filter((a) => !d.has(a)) };
}

export interface IpvsBackendOptions {
  exec: Executor;
  variant: IptablesVariant;
  scheduler?: string;
  /** Node addresses for NodePort virtual servers. */
  nodeIPs: string[];
  warn?: (msg: string) => void;
}

async function must(exec: Executor, cmd: string, args: string[], input?: string): Promise<string> {
  const r = await exec.run(cmd, args, input);
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  return r.stdout;
}

export class IpvsBackend implements ProxyBackend {
  readonly mode = 'ipvs' as const;
  private readonly opts: IpvsBackendOptions;
  private readonly iptables: IptablesApplier;
  private iptablesLoaded = '';
  lastRender: IpvsRenderResult | null = null;

  constructor(opts: IpvsBackendOptions) {
    this.opts = opts;
    this.iptables = new IptablesApplier(opts.exec, opts.variant);
  }

  async sync({ state, changed }: SyncRequest): Promise<void> {
    const exec = this.opts.exec;
    const result = render(state, { scheduler: this.opts.scheduler, nodeIPs: this.opts.nodeIPs });
    this.lastRender = result;
    // 1. The dummy interface holds the service addresses, so the node accepts packets for them.
    const link = await exec.run('ip', ['link', 'add', dummyInterface, 'type', 'dummy']);
    if (link.exitCode !== 0 && !/exists/i.test(link.stderr)) throw new Error(`ip link add ${dummyInterface}: ${link.stderr.trim()}`);
    const shown = await must(exec, 'ip', ['-4', '-o', 'addr', 'show', 'dev', dummyInterface]);
    const current = [...shown.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\/32/g)].map((m) => m[1]!);
    const { add, del } = diffAddresses(current, result.addresses);
    const batch = [...del.map((a) => `addr del ${a}/32 dev ${dummyInterface}`), ...add.map((a) => `addr add ${a}/32 dev ${dummyInterface}`)];
    if (batch.length > 0) await must(exec, 'ip', ['-batch', '-'], batch.join('\n') + '\n');
    // 2. Sets before the iptables rules that match them.
    await must(exec, 'ipset', ['restore'], result.ipsetRestore);
    // 3. Virtual and real servers: only the difference.
    const saved = parseIpvsadm(await must(exec, 'ipvsadm-save', ['-n']));
    const diff = diffIpvs(saved, result.virtualServers);
    if (diff.length > 0) await must(exec, 'ipvsadm-restore', [], diff.join('\n') + '\n');
    // 4. The iptables rules do not depend on the services: load them when they differ (or on a full sync).
    if (changed === undefined || this.iptablesLoaded !== result.iptablesPayload) {
      if (changed === undefined) await this.iptables.ensureJumps();
      this.iptablesLoaded = '';
      await this.iptables.restore(result.iptablesPayload);
      this.iptablesLoaded = result.iptablesPayload;
    }
  }

  async flushStale(stale: StaleEndpoints[]): Promise<void> {
    await flushStaleUDP(this.opts.exec, stale, this.opts.warn ?? (() => {}));
  }
}
