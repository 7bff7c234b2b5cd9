// Pod QoS class, by the upstream rules (kubernetes pkg/apis/core/helper/qos): only cpu and memory count;
// init containers count like app containers; a request left unset defaults to the limit (as the apiserver's
// defaulting does), so a pod with only limits on cpu and memory is Guaranteed.
import type { V1Container, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { addQuantities, compareQuantities, parseQuantity, type Quantity } from './quantity.ts';

export type QOSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

const QOS_RESOURCES = ['cpu', 'memory'];
const ZERO = parseQuantity('0');

/** Positive cpu/memory amounts of a resource map; unparsable values are ignored (validation reports them). */
function positiveAmounts(map: Record<string, string> | undefined): Map<string, Quantity> {
  const out = new Map<string, Quantity>();
  for (const name of QOS_RESOURCES) {
    const raw = map?.[name];
    if (raw === undefined || raw === null) continue;
    let q: Quantity;
    try { q = parseQuantity(String(raw)); } catch { continue; }
    if (compareQuantities(q, ZERO) > 0) out.set(name, q);
  }
  return out;
}

function addInto(total: Map<string, Quantity>, amounts: Map<string, Quantity>): void {
  for (const [name, q] of amounts) {
    const prev = total.get(name);
    total.set(name, prev ? addQuantities(prev, q) : q);
  }
}

export function podQOSClass(pod: Pick<V1Pod, 'spec'> | { spec?: V1PodSpec }): QOSClass {
  const spec = pod.spec;
  const containers: V1Container[] = [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])];
  const requests = new Map<string, Quantity>();
  const limits = new Map<string, Quantity>();
  let guaranteed = true;
  for (const c of containers) {
    const limitAmounts = positiveAmounts(c.resources?.limits);
    // requests default to limits for each resource that has a limit but no request
    const explicitRequests = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
    addInto(requests, positiveAmounts(explicitRequests));
    addInto(limits, limitAmounts);
    if (!QOS_RESOURCES.every((r) => limitAmounts.has(r))) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, req] of requests) {
      const lim = limits.get(name);
      if (!lim || compareQuantities(lim, req) !== 0) { guaranteed = false; break; }
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}
