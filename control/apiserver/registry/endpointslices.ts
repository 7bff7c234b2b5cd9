// discovery.k8s.io/v1 endpointslices: addressType required, table like upstream.
import { cause, type Cause } from '../../../api/errors.ts';
import { ageColumn, ageOf, col, nameColumn } from './common.ts';
import type { Obj, Strategy } from './types.ts';

function list(items: string[]): string {
  if (!items.length) return '<unset>';
  return items.length > 3 ? `${items.slice(0, 3).join(',')} + ${items.length - 3} more...` : items.join(',');
}

export const endpointslices: Strategy = {
  group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', resource: 'endpointslices', singular: 'endpointslice', namespaced: true,
  defaults(es) {
    for (const p of Array.isArray(es.ports) ? es.ports : []) if (p && typeof p === 'object') p.protocol ??= 'TCP';
  },
  validate(es) {
    const out: Cause[] = [];
    if (!['IPv4', 'IPv6', 'FQDN'].includes(es.addressType)) out.push(cause.notSupported('addressType', es.addressType, ['FQDN', 'IPv4', 'IPv6']));
    if (es.endpoints !== undefined && es.endpoints !== null && !Array.isArray(es.endpoints)) out.push(cause.invalid('endpoints', es.endpoints, 'must be a list'));
    return out;
  },
  table: {
    columns: [nameColumn, col('AddressType', 'string', 0, 'addressType specifies the type of address carried by this EndpointSlice.'),
      col('Ports', 'string', 0, 'ports specifies the list of network ports exposed by each endpoint in this slice.'),
      col('Endpoints', 'string', 0, 'endpoints is a list of unique endpoints in this slice.'), ageColumn],
    cells: (es: Obj, now) => [es?.metadata?.name, es?.addressType ?? '',
      list((es?.ports ?? []).map((p: Obj) => String(p?.port ?? ''))),
      list((es?.endpoints ?? []).flatMap((e: Obj) => e?.addresses ?? [])), ageOf(es, now)],
  },
};
