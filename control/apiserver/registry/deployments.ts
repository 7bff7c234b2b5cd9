// apps/v1 deployments: upstream defaults (replicas, RollingUpdate 25%/25%, history 10, deadline 600), scale, table.
import { cause, type Cause } from '../../../api/errors.ts';
import { ageColumn, ageOf, col, containersAndImages, defaultPodTemplate, isObject, nameColumn, nonNegativeInt, selectorString, validateSelectorAndTemplate } from './common.ts';
import type { Obj, ScaleRules, Strategy } from './types.ts';

export const replicaScale: ScaleRules = {
  read: (o) => ({ replicas: o?.spec?.replicas ?? 0, statusReplicas: o?.status?.replicas ?? 0, selector: selectorString(o?.spec?.selector) }),
  write: (o, replicas) => { o.spec = isObject(o.spec) ? o.spec : {}; o.spec.replicas = replicas; },
};

export const deployments: Strategy = {
  group: 'apps', version: 'v1', kind: 'Deployment', resource: 'deployments', singular: 'deployment', namespaced: true,
  shortNames: ['deploy'], categories: ['all'], hasStatus: true, tracksGeneration: true, scale: replicaScale,
  defaults(d) {
    if (!isObject(d.spec)) return;
    const s = d.spec;
    s.replicas ??= 1;
    s.strategy ??= {};
    if (isObject(s.strategy)) {
      s.strategy.type ??= 'RollingUpdate';
      if (s.strategy.type === 'RollingUpdate') {
        s.strategy.rollingUpdate ??= {};
        if (isObject(s.strategy.rollingUpdate)) {
          s.strategy.rollingUpdate.maxUnavailable ??= '25%';
          s.strategy.rollingUpdate.maxSurge ??= '25%';
        }
      }
    }
    s.revisionHistoryLimit ??= 10;
    s.progressDeadlineSeconds ??= 600;
    defaultPodTemplate(s.template);
  },
  prepareForCreate(d) {
    d.status = {};
  },
  validate(d, old) {
    const out: Cause[] = [];
    validateSelectorAndTemplate(d.spec, out);
    if (!isObject(d.spec)) return out;
    nonNegativeInt(d.spec.replicas, 'spec.replicas', out);
    nonNegativeInt(d.spec.revisionHistoryLimit, 'spec.revisionHistoryLimit', out);
    const st = d.spec.strategy;
    if (isObject(st)) {
      if (!['RollingUpdate', 'Recreate'].includes(st.type)) out.push(cause.notSupported('spec.strategy.type', st.type, ['Recreate', 'RollingUpdate']));
      if (st.type === 'Recreate' && st.rollingUpdate) out.push(cause.forbidden('spec.strategy.rollingUpdate', 'may not be specified when strategy `type` is \'Recreate\''));
    }
    if (d.spec.template?.spec?.restartPolicy && d.spec.template.spec.restartPolicy !== 'Always') {
      out.push(cause.notSupported('spec.template.spec.restartPolicy', d.spec.template.spec.restartPolicy, ['Always']));
    }
    if (old && JSON.stringify(old.spec?.selector) !== JSON.stringify(d.spec.selector)) out.push(cause.invalid('spec.selector', d.spec.selector, 'field is immutable'));
    return out;
  },
  table: {
    columns: [nameColumn, col('Ready', 'string', 0, 'Number of the pod with ready state'), col('Up-to-date', 'string', 0, 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
      col('Available', 'string', 0, 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'), ageColumn,
      col('Containers', 'string', 1, 'Names of each container in the template.'), col('Images', 'string', 1, 'Images referenced by each container in the template.'),
      col('Selector', 'string', 1, 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.')],
    cells: (d: Obj, now) => [d?.metadata?.name, `${d?.status?.readyReplicas ?? 0}/${d?.spec?.replicas ?? 0}`, d?.status?.updatedReplicas ?? 0,
      d?.status?.availableReplicas ?? 0, ageOf(d, now), ...containersAndImages(d?.spec?.template?.spec), selectorString(d?.spec?.selector)],
  },
};
