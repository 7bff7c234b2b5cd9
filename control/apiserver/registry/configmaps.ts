// core/v1 configmaps: keys must be valid config keys; the table counts data entries.
import { cause, type Cause } from '../../../api/errors.ts';
import { ageColumn, ageOf, col, isObject, nameColumn } from './common.ts';
import type { Obj, Strategy } from './types.ts';

const configKeyRe = /^[-._a-zA-Z0-9]+$/;
export function validateConfigKeys(data: unknown, field: string, out: Cause[]): void {
  if (data === undefined || data === null) return;
  if (!isObject(data)) { out.push(cause.invalid(field, data, 'must be a map of string to string')); return; }
  for (const [k, v] of Object.entries(data)) {
    if (!configKeyRe.test(k) || k.length > 253) out.push(cause.invalid(field, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
    if (typeof v !== 'string') out.push(cause.invalid(`${field}[${k}]`, v, 'must be a string'));
  }
}

export const configmaps: Strategy = {
  group: '', version: 'v1', kind: 'ConfigMap', resource: 'configmaps', singular: 'configmap', namespaced: true,
  shortNames: ['cm'],
  validate(cm, old) {
    const out: Cause[] = [];
    validateConfigKeys(cm.data, 'data', out);
    validateConfigKeys(cm.binaryData, 'binaryData', out);
    if (old?.immutable === true) {
      if (JSON.stringify(cm.data ?? {}) !== JSON.stringify(old.data ?? {})) out.push(cause.forbidden('data', 'field is immutable when `immutable` is set'));
      if (cm.immutable !== true) out.push(cause.forbidden('immutable', 'field is immutable when `immutable` is set'));
    }
    return out;
  },
  table: {
    columns: [nameColumn, col('Data', 'string', 0, 'Data contains the configuration data.'), ageColumn],
    cells: (cm: Obj, now) => [cm?.metadata?.name, Object.keys(cm?.data ?? {}).length + Object.keys(cm?.binaryData ?? {}).length, ageOf(cm, now)],
  },
};
