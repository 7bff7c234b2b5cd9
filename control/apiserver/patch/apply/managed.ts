// metadata.managedFields entries <-> field sets, one entry per (manager, operation, subresource).
import type { V1ManagedFieldsEntry } from '@kubernetes/client-node';
import { isObject, type Json, type JsonObject } from '../body.ts';
import { fromFieldsV1, toFieldsV1, type FieldSet } from './fieldpath.ts';

export interface ManagerEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time?: string;
  subresource?: string;
  set: FieldSet;
}

export function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function readEntries(obj: JsonObject | undefined): ManagerEntry[] {
  const meta = obj?.metadata;
  const list = isObject(meta) ? meta.managedFields : undefined;
  if (!Array.isArray(list)) return [];
  const out: ManagerEntry[] = [];
  for (const raw of list) {
    if (!isObject(raw) || typeof raw.manager !== 'string') continue;
    out.push({
      manager: raw.manager,
      operation: raw.operation === 'Apply' ? 'Apply' : 'Update',
      apiVersion: typeof raw.apiVersion === 'string' ? raw.apiVersion : '',
      ...(typeof raw.time === 'string' ? { time: raw.time } : {}),
      ...(typeof raw.subresource === 'string' && raw.subresource ? { subresource: raw.subresource } : {}),
      set: fromFieldsV1(raw.fieldsV1 ?? {}),
    });
  }
  return out;
}

export function writeEntries(obj: JsonObject, entries: ManagerEntry[]): void {
  const kept = entries.filter((e) => e.set.size > 0);
  const meta: JsonObject = isObject(obj.metadata) ? obj.metadata : (obj.metadata = {});
  if (kept.length === 0) { delete meta.managedFields; return; }
  meta.managedFields = kept.map((e) => {
    const entry: V1ManagedFieldsEntry = {
      manager: e.manager, operation: e.operation, apiVersion: e.apiVersion, ...(e.time ? { time: e.time as unknown as Date } : {}),
      fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(e.set), ...(e.subresource ? { subresource: e.subresource } : {}),
    };
    return entry as unknown as Json;
  });
}

export function sameOwner(e: ManagerEntry, manager: string, operation: 'Apply' | 'Update', subresource?: string): boolean {
  return e.manager === manager && e.operation === operation && (e.subresource ?? '') === (subresource ?? '');
}

/** How upstream names a manager in conflict messages: appliers by name, updaters with their apiVersion. */
export function describeManager(e: ManagerEntry): string {
  let s = JSON.stringify(e.manager);
  if (e.subresource) s += ` with subresource ${JSON.stringify(e.subresource)}`;
  return e.operation === 'Update' ? `${s} using ${e.apiVersion}` : s;
}
