// meta.k8s.io/v1 Table responses: the strategy's columns, one row per object, rows[].object as
// PartialObjectMetadata (default), the full object (includeObject=Object) or nothing (None).
import { age } from '../../../api/meta.ts';
import type { KubeObject } from '../storage/etcd-store.ts';
import { nameColumn } from '../registry/common.ts';
import type { Strategy, TableColumn } from '../registry/types.ts';

export const tableContentType = 'application/json;as=Table;v=v1;g=meta.k8s.io';

/** Whether the Accept header asks for a Table (kubectl get sends Table first, JSON as fallback). */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const params = part.split(';').map((p) => p.trim());
    return params.includes('as=Table') && params.includes('g=meta.k8s.io') && (params.includes('v=v1') || params.includes('v=v1beta1'));
  });
}

const createdAt: TableColumn = { name: 'Created At', type: 'date', format: '', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.', priority: 0 };

export function tableColumns(s: Strategy): TableColumn[] {
  return s.table?.columns ?? [nameColumn, createdAt];
}

function cells(s: Strategy, obj: KubeObject, now: number): unknown[] {
  if (s.table) {
    try { return s.table.cells(obj, now); } catch { /* a malformed stored object still gets a row */ }
  }
  return [obj.metadata?.name ?? '', s.table ? age(obj.metadata?.creationTimestamp as string | undefined, now) : obj.metadata?.creationTimestamp ?? ''];
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function rowObject(obj: KubeObject, include: IncludeObject): KubeObject | undefined {
  if (include === 'None') return undefined;
  if (include === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

export function toTable(s: Strategy, objs: KubeObject[], include: IncludeObject, listMeta: Record<string, unknown>, withColumns = true) {
  const now = Date.now();
  return {
    kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: listMeta,
    columnDefinitions: withColumns ? tableColumns(s) : [],
    rows: objs.map((o) => {
      const row: Record<string, unknown> = { cells: cells(s, o, now) };
      const ro = rowObject(o, include);
      if (ro) row.object = ro;
      return row;
    }),
  };
}
