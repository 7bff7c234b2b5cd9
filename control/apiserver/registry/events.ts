// core/v1 events: involvedObject field selectors (kubectl describe), the LAST SEEN / TYPE / REASON table.
import { cause, type Cause } from '../../../api/errors.ts';
import { age } from '../../../api/meta.ts';
import { col, isObject } from './common.ts';
import type { Obj, Strategy } from './types.ts';

export const events: Strategy = {
  group: '', version: 'v1', kind: 'Event', resource: 'events', singular: 'event', namespaced: true,
  shortNames: ['ev'],
  validate(ev) {
    const out: Cause[] = [];
    if (!isObject(ev.involvedObject)) out.push(cause.required('involvedObject'));
    return out;
  },
  fieldLabels(ev) {
    const io = ev?.involvedObject ?? {};
    return {
      'involvedObject.kind': io.kind ?? '', 'involvedObject.namespace': io.namespace ?? '', 'involvedObject.name': io.name ?? '',
      'involvedObject.uid': io.uid ?? '', 'involvedObject.apiVersion': io.apiVersion ?? '', 'involvedObject.resourceVersion': io.resourceVersion ?? '',
      'involvedObject.fieldPath': io.fieldPath ?? '', reason: ev?.reason ?? '', reportingComponent: ev?.reportingComponent ?? '',
      source: ev?.source?.component ?? '', type: ev?.type ?? '',
    };
  },
  table: {
    columns: [col('Last Seen'), col('Type'), col('Reason'), col('Object'), col('Subobject', 'string', 1), col('Source', 'string', 1),
      col('Message'), col('First Seen', 'string', 1), col('Count', 'string', 1), { name: 'Name', type: 'string', format: 'name', priority: 1, description: '' }],
    cells: (ev: Obj, now) => {
      const last = ev?.lastTimestamp || ev?.eventTime || ev?.metadata?.creationTimestamp;
      const io = ev?.involvedObject ?? {};
      return [age(last, now), ev?.type ?? '', ev?.reason ?? '', `${String(io.kind ?? '').toLowerCase()}/${io.name ?? ''}`, io.fieldPath ?? '',
        [ev?.source?.component, ev?.source?.host].filter(Boolean).join(', '), ev?.message ?? '',
        age(ev?.firstTimestamp || ev?.eventTime, now), ev?.count ?? 1, ev?.metadata?.name];
    },
  },
};
