// core/v1 endpoints: written by the endpoints controller, shown as "ip:port,..." in tables.
import { ageColumn, ageOf, col, nameColumn } from './common.ts';
import type { Obj, Strategy } from './types.ts';

function endpointsCell(ep: Obj): string {
  const all: string[] = [];
  for (const subset of Array.isArray(ep?.subsets) ? ep.subsets : []) {
    const ports = Array.isArray(subset?.ports) && subset.ports.length ? subset.ports : [undefined];
    for (const a of Array.isArray(subset?.addresses) ? subset.addresses : []) {
      for (const p of ports) all.push(p ? `${a?.ip}:${p?.port}` : `${a?.ip}`);
    }
  }
  if (!all.length) return '<none>';
  return all.length > 3 ? `${all.slice(0, 3).join(',')} + ${all.length - 3} more...` : all.join(',');
}

export const endpoints: Strategy = {
  group: '', version: 'v1', kind: 'Endpoints', resource: 'endpoints', singular: 'endpoints', namespaced: true,
  shortNames: ['ep'],
  defaults(ep) {
    for (const subset of Array.isArray(ep.subsets) ? ep.subsets : []) for (const p of subset?.ports ?? []) if (p && typeof p === 'object') p.protocol ??= 'TCP';
  },
  table: {
    columns: [nameColumn, col('Endpoints', 'string', 0, 'Endpoints of the service'), ageColumn],
    cells: (ep, now) => [ep?.metadata?.name, endpointsCell(ep), ageOf(ep, now)],
  },
};
