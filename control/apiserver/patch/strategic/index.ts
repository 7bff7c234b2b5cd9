import { ApiError, errors } from '../../../../api/errors.ts';
import { isObject, parseJsonBody, type JsonObject } from '../body.ts';
import { strategicMerge } from './merge.ts';
import { schemaForKind } from './schema.ts';

export { strategicMerge } from './merge.ts';
export { schemaForKind, structs, type FieldMeta, type SchemaNode } from './schema.ts';

/** Upstream answers 415 to strategic merge patches on kinds without Go struct metadata (custom resources). */
export function strategicUnsupported(kind: string): ApiError {
  return new ApiError('UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, ` +
    `application/merge-patch+json, application/apply-patch+yaml (strategic merge patch is not supported for ${kind})`);
}

export function applyStrategicMergePatch(current: object, body: Buffer, gvk: { group: string; kind: string }): object {
  const schema = schemaForKind(gvk.group, gvk.kind);
  if (!schema) throw strategicUnsupported(gvk.group ? `${gvk.kind}.${gvk.group}` : gvk.kind);
  const patch = parseJsonBody(body, 'strategic merge patch');
  if (!isObject(patch)) throw errors.badRequest('strategic merge patch: the body must be a JSON object');
  return strategicMerge(current as JsonObject, patch, schema);
}
