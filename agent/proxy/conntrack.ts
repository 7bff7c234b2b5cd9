// UDP has no connection close: when a UDP endpoint goes away, conntrack keeps sending the flow to it until
// the entry times out. Delete those entries, as upstream does after each sync.
import type { Executor } from './exec.ts';
import type { EndpointInfo, ServicePortInfo } from './types.ts';

/**
 * Conntrack entries to forget: those DNATed to `endpoints` of a service port, or with `wholeService`, every
 * entry to the service's addresses (a UDP service that just got endpoints: earlier packets left entries
 * without DNAT that would otherwise keep bypassing the new rules).
 */
export interface StaleEndpoints { service: ServicePortInfo; endpoints: EndpointInfo[]; wholeService?: boolean }

/** conntrack -D argument lists for endpoints that stopped serving a UDP service port. */
export function conntrackDeletions(stale: StaleEndpoints[]): string[][] {
  const out: string[][] = [];
  for (const { service, endpoints, wholeService } of stale) {
    if (service.protocol !== 'UDP') continue;
    const serviceIPs = [service.clusterIP, ...service.externalIPs, ...service.loadBalancerIPs];
    if (wholeService) {
      for (const ip of serviceIPs) out.push(['-D', '--orig-dst', ip, '-p', 'udp']);
      if (service.nodePort) out.push(['-D', '-p', 'udp', '--dport', String(service.nodePort)]);
    }
    for (const ep of endpoints) {
      for (const ip of serviceIPs) out.push(['-D', '--orig-dst', ip, '--dst-nat', ep.ip, '-p', 'udp']);
      if (service.nodePort) out.push(['-D', '-p', 'udp', '--dport', String(service.nodePort), '--dst-nat', ep.ip]);
    }
  }
  return out;
}

/** Runs the deletions; conntrack exits 1 when no entry matched, which is not an error here. */
export async function flushStaleUDP(exec: Executor, stale: StaleEndpoints[], warn: (msg: string) => void): Promise<number> {
  let n = 0;
  for (const args of conntrackDeletions(stale)) {
    const r = await exec.run('conntrack', args);
    if (r.exitCode !== 0 && !/0 flow entries/.test(r.stderr)) warn(`conntrack ${args.join(' ')}: ${r.stderr.trim()}`);
    n++;
  }
  return n;
}
