// core/v1 secrets: type defaults to Opaque, data values must be base64, stringData folds into data.
import { cause, type Cause } from '../../../api/errors.ts';
import { ageColumn, ageOf, col, isObject, nameColumn } from './common.ts';
import { validateConfigKeys } from './configmaps.ts';
import type { Obj, Strategy } from './types.ts';

const base64Re = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export const secrets: Strategy = {
  group: '', version: 'v1', kind: 'Secret', resource: 'secrets', singular: 'secret', namespaced: true,
  defaults(s) {
    s.type ??= 'Opaque';
    // stringData is write-only: merged into data, never stored
    if (isObject(s.stringData)) {
      const data = isObject(s.data) ? s.data : {};
      for (const [k, v] of Object.entries(s.stringData)) if (typeof v === 'string') data[k] = Buffer.from(v).toString('base64');
      s.data = data;
      delete s.stringData;
    }
  },
  validate(s) {
    const out: Cause[] = [];
    validateConfigKeys(s.data, 'data', out);
    if (isObject(s.data)) {
      for (const [k, v] of Object.entries(s.data)) if (typeof v === 'string' && !base64Re.test(v)) out.push(cause.invalid(`data[${k}]`, '<secret contents redacted>', 'illegal base64 data'));
    }
    if (typeof s.type !== 'string') out.push(cause.invalid('type', s.type, 'must be a string'));
    return out;
  },
  fieldLabels: (s) => ({ type: s?.type ?? '' }),
  table: {
    columns: [nameColumn, col('Type', 'string', 0, 'The type of the secret'), col('Data', 'string', 0, 'The number of entries in the secret'), ageColumn],
    cells: (s: Obj, now) => [s?.metadata?.name, s?.type ?? '', Object.keys(s?.data ?? {}).length, ageOf(s, now)],
  },
};
