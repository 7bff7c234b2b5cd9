// PATCH bodies for the apiserver: one entry point that picks the algorithm by Content-Type.
import { ApiError, errors } from '../../../api/errors.ts';
import { applyJsonPatch } from './json-patch.ts';
import { applyMergePatch } from './merge-patch.ts';
import { applyStrategicMergePatch } from './strategic/index.ts';
import { applyServerSide, recordUpdateManager, managerFromUserAgent } from './apply/index.ts';

export { recordUpdateManager, managerFromUserAgent };
export { schemaForKind } from './strategic/index.ts';

export interface GroupVersionKind { group: string; version: string; kind: string }

export interface PatchOptions {
  gvk: GroupVersionKind;
  /** ?fieldManager=; required for apply patches */
  fieldManager?: string;
  /** ?force=true for apply patches: take ownership of conflicting fields */
  force?: boolean;
  /** plural resource and object name, only used to word NotFound errors like upstream ("deployments.apps \"x\" not found") */
  resource?: string;
  name?: string;
}

export const PATCH_CONTENT_TYPES = [
  'application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
] as const;

/** The media type without parameters ("application/merge-patch+json; charset=utf-8" -> "application/merge-patch+json"). */
export function patchMediaType(contentType: string): string {
  return contentType.split(';')[0].trim().toLowerCase();
}

/**
 * Applies a PATCH body to the current object and returns the new object (never mutates `current`).
 * `current` undefined: apply patches create the object; every other type is NotFound.
 * Throws ApiError: BadRequest (malformed), Invalid 422 (json patch that does not apply), UnsupportedMediaType,
 * Conflict with FieldManagerConflict causes (server-side apply), NotFound.
 */
export function applyPatch(contentType: string, current: object | undefined, body: Buffer, opts: PatchOptions): object {
  try {
    return dispatch(contentType, current, body, opts);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    // nothing a client sends may become a 500: a stack overflow on absurd nesting or any other surprise is the body's fault
    if (err instanceof RangeError) throw errors.badRequest('the patch is nested too deeply');
    throw errors.badRequest(`the patch could not be applied: ${(err as Error)?.message ?? String(err)}`);
  }
}

function dispatch(contentType: string, current: object | undefined, body: Buffer, opts: PatchOptions): object {
  const type = patchMediaType(contentType);
  if (!(PATCH_CONTENT_TYPES as readonly string[]).includes(type)) {
    throw new ApiError('UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: ${PATCH_CONTENT_TYPES.join(', ')}`);
  }
  if (type === 'application/apply-patch+yaml') return applyServerSide(current, body, opts);
  if (opts.force) throw errors.badRequest('force may only be set for apply patches (application/apply-patch+yaml)');
  if (current === undefined) {
    const resource = opts.resource ?? `${opts.gvk.kind.toLowerCase()}s`;
    throw errors.notFound(resource, opts.name ?? '', opts.gvk.group);
  }
  switch (type) {
    case 'application/json-patch+json': return applyJsonPatch(current, body);
    case 'application/merge-patch+json': return applyMergePatch(current, body);
    default: return applyStrategicMergePatch(current, body, opts.gvk);
  }
}
