// coordination.k8s.io/v1 leases: node heartbeats and leader election.
import { ageColumn, ageOf, col, nameColumn } from './common.ts';
import type { Obj, Strategy } from './types.ts';

export const leases: Strategy = {
  group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', resource: 'leases', singular: 'lease', namespaced: true,
  table: {
    columns: [nameColumn, col('Holder', 'string', 0, 'The holder of the lease'), ageColumn],
    cells: (l: Obj, now) => [l?.metadata?.name, l?.spec?.holderIdentity ?? '', ageOf(l, now)],
  },
};
