// core/v1 namespaces: DNS-1123 label names, phase Active, the kubernetes.io/metadata.name label.
import { nameIsDNSLabel } from '../../../api/validation.ts';
import { ageColumn, ageOf, col, isObject, nameColumn } from './common.ts';
import type { Strategy } from './types.ts';

export const namespaces: Strategy = {
  group: '', version: 'v1', kind: 'Namespace', resource: 'namespaces', singular: 'namespace', namespaced: false,
  shortNames: ['ns'], hasStatus: true, validateName: nameIsDNSLabel,
  defaults(ns) {
    if (isObject(ns.metadata) && typeof ns.metadata.name === 'string' && ns.metadata.name) {
      ns.metadata.labels = { ...(isObject(ns.metadata.labels) ? ns.metadata.labels : {}), 'kubernetes.io/metadata.name': ns.metadata.name };
    }
  },
  prepareForCreate(ns) {
    ns.spec ??= {};
    ns.status = { phase: 'Active' };
  },
  fieldLabels: (ns) => ({ 'status.phase': ns?.status?.phase ?? '' }),
  table: {
    columns: [nameColumn, col('Status', 'string', 0, 'The status of the namespace'), ageColumn],
    cells: (ns, now) => [ns?.metadata?.name, ns?.status?.phase ?? '', ageOf(ns, now)],
  },
};
