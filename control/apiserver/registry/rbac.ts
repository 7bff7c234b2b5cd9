// rbac.authorization.k8s.io/v1: roles, clusterroles, rolebindings, clusterrolebindings (path-segment names).
import { cause, type Cause } from '../../../api/errors.ts';
import { isValidPathSegmentName } from '../../../api/validation.ts';
import { ageColumn, ageOf, col, isObject, nameColumn } from './common.ts';
import type { Obj, Strategy } from './types.ts';

const group = 'rbac.authorization.k8s.io';
const createdAt = col('Created At', 'date', 0, 'CreationTimestamp is a timestamp representing the server time when this object was created.');

function validateRules(rules: unknown): Cause[] {
  const out: Cause[] = [];
  if (rules === undefined || rules === null) return out;
  if (!Array.isArray(rules)) return [cause.invalid('rules', rules, 'must be a list')];
  rules.forEach((r: Obj, i: number) => {
    if (!isObject(r) || !Array.isArray(r.verbs) || r.verbs.length === 0) out.push(cause.required(`rules[${i}].verbs`, 'Required value: verbs must contain at least one value'));
  });
  return out;
}

function validateBinding(b: Obj): Cause[] {
  const out: Cause[] = [];
  const ref = b.roleRef;
  if (!isObject(ref)) return [cause.required('roleRef')];
  if (!['Role', 'ClusterRole'].includes(ref.kind as string)) out.push(cause.notSupported('roleRef.kind', ref.kind, ['ClusterRole', 'Role']));
  if (typeof ref.name !== 'string' || !ref.name) out.push(cause.required('roleRef.name'));
  if (ref.apiGroup !== group) out.push(cause.notSupported('roleRef.apiGroup', ref.apiGroup, [group]));
  if (b.subjects !== undefined && !Array.isArray(b.subjects)) out.push(cause.invalid('subjects', b.subjects, 'must be a list'));
  for (const [i, s] of (Array.isArray(b.subjects) ? b.subjects : []).entries()) {
    if (!isObject(s) || !['User', 'Group', 'ServiceAccount'].includes(s.kind as string)) out.push(cause.notSupported(`subjects[${i}].kind`, s?.kind, ['Group', 'ServiceAccount', 'User']));
    else if (typeof s.name !== 'string' || !s.name) out.push(cause.required(`subjects[${i}].name`));
  }
  return out;
}

function subjects(b: Obj, kind: string): string {
  return (b?.subjects ?? []).filter((s: Obj) => s?.kind === kind).map((s: Obj) => (kind === 'ServiceAccount' ? `${s.namespace ?? ''}/${s.name}` : s.name)).join(', ');
}
const bindingTable = {
  columns: [nameColumn, col('Role', 'string', 0, 'RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.'), ageColumn,
    col('Users', 'string', 1, 'Users in the roleBinding'), col('Groups', 'string', 1, 'Groups in the roleBinding'), col('ServiceAccounts', 'string', 1, 'ServiceAccounts in the roleBinding')],
  cells: (b: Obj, now: number) => [b?.metadata?.name, `${b?.roleRef?.kind ?? ''}/${b?.roleRef?.name ?? ''}`, ageOf(b, now),
    subjects(b, 'User'), subjects(b, 'Group'), subjects(b, 'ServiceAccount')],
};
const roleTable = { columns: [nameColumn, createdAt], cells: (r: Obj) => [r?.metadata?.name, r?.metadata?.creationTimestamp ?? ''] };

export const roles: Strategy = {
  group, version: 'v1', kind: 'Role', resource: 'roles', singular: 'role', namespaced: true, validateName: isValidPathSegmentName,
  validate: (r) => validateRules(r.rules), table: roleTable,
};
export const clusterroles: Strategy = {
  group, version: 'v1', kind: 'ClusterRole', resource: 'clusterroles', singular: 'clusterrole', namespaced: false, validateName: isValidPathSegmentName,
  validate: (r) => validateRules(r.rules), table: roleTable,
};
export const rolebindings: Strategy = {
  group, version: 'v1', kind: 'RoleBinding', resource: 'rolebindings', singular: 'rolebinding', namespaced: true, validateName: isValidPathSegmentName,
  validate: validateBinding, table: bindingTable,
};
export const clusterrolebindings: Strategy = {
  group, version: 'v1', kind: 'ClusterRoleBinding', resource: 'clusterrolebindings', singular: 'clusterrolebinding', namespaced: false,
  validateName: isValidPathSegmentName, validate: validateBinding, table: bindingTable,
};
