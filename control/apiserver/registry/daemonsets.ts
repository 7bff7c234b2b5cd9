// apps/v1 daemonsets: RollingUpdate (maxUnavailable 1, maxSurge 0) by default, table.
import { cause, type Cause } from '../../../api/errors.ts';
import { ageColumn, ageOf, col, containersAndImages, defaultPodTemplate, isObject, nameColumn, selectorString, validateSelectorAndTemplate } from './common.ts';
import type { Obj, Strategy } from './types.ts';

export const daemonsets: Strategy = {
  group: 'apps', version: 'v1', kind: 'DaemonSet', resource: 'daemonsets', singular: 'daemonset', namespaced: true,
  shortNames: ['ds'], categories: ['all'], hasStatus: true, tracksGeneration: true,
  defaults(ds) {
    if (!isObject(ds.spec)) return;
    ds.spec.updateStrategy ??= {};
    if (isObject(ds.spec.updateStrategy)) {
      ds.spec.updateStrategy.type ??= 'RollingUpdate';
      if (ds.spec.updateStrategy.type === 'RollingUpdate') {
        ds.spec.updateStrategy.rollingUpdate ??= {};
        if (isObject(ds.spec.updateStrategy.rollingUpdate)) {
          ds.spec.updateStrategy.rollingUpdate.maxUnavailable ??= 1;
          ds.spec.updateStrategy.rollingUpdate.maxSurge ??= 0;
        }
      }
    }
    ds.spec.revisionHistoryLimit ??= 10;
    defaultPodTemplate(ds.spec.template);
  },
  prepareForCreate(ds) {
    ds.status = { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 };
  },
  validate(ds, old) {
    const out: Cause[] = [];
    validateSelectorAndTemplate(ds.spec, out);
    const t = ds.spec?.updateStrategy?.type;
    if (t !== undefined && !['RollingUpdate', 'OnDelete'].includes(t)) out.push(cause.notSupported('spec.updateStrategy.type', t, ['OnDelete', 'RollingUpdate']));
    if (old && JSON.stringify(old.spec?.selector) !== JSON.stringify(ds.spec?.selector)) out.push(cause.invalid('spec.selector', ds.spec?.selector, 'field is immutable'));
    return out;
  },
  table: {
    columns: [nameColumn, col('Desired', 'integer', 0, 'The total number of nodes that should be running the daemon pod.'),
      col('Current', 'integer', 0, 'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.'),
      col('Ready', 'integer', 0, 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.'),
      col('Up-to-date', 'integer', 0, 'The total number of nodes that are running updated daemon pod'),
      col('Available', 'integer', 0, 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.'),
      col('Node Selector', 'string', 0, 'NodeSelector is a selector which must be true for the pod to fit on a node.'), ageColumn,
      col('Containers', 'string', 1, 'Names of each container in the template.'), col('Images', 'string', 1, 'Images referenced by each container in the template.'),
      col('Selector', 'string', 1, 'A label query over pods that are managed by the daemon set.')],
    cells: (ds: Obj, now) => {
      const ns = ds?.spec?.template?.spec?.nodeSelector;
      const nsText = isObject(ns) && Object.keys(ns).length ? Object.entries(ns).map(([k, v]) => `${k}=${v}`).join(',') : '<none>';
      return [ds?.metadata?.name, ds?.status?.desiredNumberScheduled ?? 0, ds?.status?.currentNumberScheduled ?? 0, ds?.status?.numberReady ?? 0,
        ds?.status?.updatedNumberScheduled ?? 0, ds?.status?.numberAvailable ?? 0, nsText, ageOf(ds, now),
        ...containersAndImages(ds?.spec?.template?.spec), selectorString(ds?.spec?.selector)];
    },
  },
};
