// core/v1 serviceaccounts.
import { ageColumn, ageOf, col, nameColumn } from './common.ts';
import type { Obj, Strategy } from './types.ts';

export const serviceaccounts: Strategy = {
  group: '', version: 'v1', kind: 'ServiceAccount', resource: 'serviceaccounts', singular: 'serviceaccount', namespaced: true,
  shortNames: ['sa'],
  extraSubresources: [{ name: 'token', kind: 'TokenRequest', group: 'authentication.k8s.io', version: 'v1', verbs: ['create'] }],
  table: {
    columns: [nameColumn, col('Secrets', 'string', 0, 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.'), ageColumn],
    cells: (sa: Obj, now) => [sa?.metadata?.name, (sa?.secrets ?? []).length, ageOf(sa, now)],
  },
};
