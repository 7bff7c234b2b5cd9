// apps/v1 replicasets: replicas default 1, scale, table.
import { cause, type Cause } from '../../../api/errors.ts';
import { ageColumn, ageOf, col, containersAndImages, defaultPodTemplate, isObject, nameColumn, nonNegativeInt, selectorString, validateSelectorAndTemplate } from './common.ts';
import { replicaScale } from './deployments.ts';
import type { Obj, Strategy } from './types.ts';

export const replicasets: Strategy = {
  group: 'apps', version: 'v1', kind: 'ReplicaSet', resource: 'replicasets', singular: 'replicaset', namespaced: true,
  shortNames: ['rs'], categories: ['all'], hasStatus: true, tracksGeneration: true, scale: replicaScale,
  defaults(rs) {
    if (!isObject(rs.spec)) return;
    rs.spec.replicas ??= 1;
    defaultPodTemplate(rs.spec.template);
  },
  prepareForCreate(rs) {
    rs.status = { replicas: 0 };
  },
  validate(rs, old) {
    const out: Cause[] = [];
    validateSelectorAndTemplate(rs.spec, out);
    if (isObject(rs.spec)) nonNegativeInt(rs.spec.replicas, 'spec.replicas', out);
    if (old && JSON.stringify(old.spec?.selector) !== JSON.stringify(rs.spec?.selector)) out.push(cause.invalid('spec.selector', rs.spec?.selector, 'field is immutable'));
    return out;
  },
  table: {
    columns: [nameColumn, col('Desired', 'integer', 0, 'Number of desired pods.'), col('Current', 'integer', 0, 'Number of actual replicas.'),
      col('Ready', 'integer', 0, 'The number of ready replicas for this replica set.'), ageColumn,
      col('Containers', 'string', 1, 'Names of each container in the template.'), col('Images', 'string', 1, 'Images referenced by each container in the template.'),
      col('Selector', 'string', 1, 'Selector is a label query over pods that should match the replica count.')],
    cells: (rs: Obj, now) => [rs?.metadata?.name, rs?.spec?.replicas ?? 0, rs?.status?.replicas ?? 0, rs?.status?.readyReplicas ?? 0, ageOf(rs, now),
      ...containersAndImages(rs?.spec?.template?.spec), selectorString(rs?.spec?.selector)],
  },
};
