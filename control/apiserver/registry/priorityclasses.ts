// scheduling.k8s.io/v1 priorityclasses, and the two system classes every cluster has.
import { cause, type Cause } from '../../../api/errors.ts';
import { ageColumn, ageOf, col, nameColumn } from './common.ts';
import type { Obj, Strategy } from './types.ts';

export const systemPriorityClasses = [
  { name: 'system-node-critical', value: 2000001000, description: 'Used for system critical pods that must not be moved from their current node.' },
  { name: 'system-cluster-critical', value: 2000000000, description: 'Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.' },
];

export const priorityclasses: Strategy = {
  group: 'scheduling.k8s.io', version: 'v1', kind: 'PriorityClass', resource: 'priorityclasses', singular: 'priorityclass', namespaced: false,
  shortNames: ['pc'],
  defaults(pc) {
    pc.preemptionPolicy ??= 'PreemptLowerPriority';
  },
  validate(pc, old) {
    const out: Cause[] = [];
    if (!Number.isInteger(pc.value)) out.push(cause.required('value'));
    else if (pc.value > 1000000000 && !systemPriorityClasses.some((s) => s.name === pc?.metadata?.name)) {
      out.push(cause.forbidden('value', 'maximum allowed value of a user defined priority is 1000000000'));
    }
    if (!old && typeof pc?.metadata?.name === 'string' && pc.metadata.name.startsWith('system-') && !systemPriorityClasses.some((s) => s.name === pc.metadata.name)) {
      out.push(cause.forbidden('metadata.name', 'priority class names with \'system-\' prefix are reserved for system use only'));
    }
    if (old && old.value !== pc.value) out.push(cause.forbidden('value', 'may not be changed in an update.'));
    if (!['PreemptLowerPriority', 'Never'].includes(pc.preemptionPolicy)) out.push(cause.notSupported('preemptionPolicy', pc.preemptionPolicy, ['Never', 'PreemptLowerPriority']));
    return out;
  },
  table: {
    columns: [nameColumn, col('Value', 'integer', 0, 'value represents the integer value of this priority class.'),
      col('Global-Default', 'boolean', 0, 'globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class.'),
      ageColumn, col('PreemptionPolicy', 'string', 0, 'preemptionPolicy is the Policy for preempting pods with lower priority.')],
    cells: (pc: Obj, now) => [pc?.metadata?.name, pc?.value, Boolean(pc?.globalDefault), ageOf(pc, now), pc?.preemptionPolicy ?? ''],
  },
};
