// PATCH and field-manager glue between the HTTP handlers and control/apiserver/patch (all four patch types,
// server-side apply, managedFields).
import { ApiError, errors } from '../../../api/errors.ts';
import { applyPatch, managerFromUserAgent, recordUpdateManager, PATCH_CONTENT_TYPES } from '../patch/index.ts';
import { mediaType } from './body.ts';

export interface PatchOptions { gvk: { group: string; version: string; kind: string }; fieldManager?: string; force?: boolean; resource?: string; name?: string }

/** Applies a PATCH body of any of the four types to current (undefined when the object does not exist yet). */
export function applyPatchBody(contentType: string | undefined, current: object | undefined, body: Buffer | undefined, opts: PatchOptions): object {
  const mt = mediaType(contentType);
  if (!(PATCH_CONTENT_TYPES as readonly string[]).includes(mt)) {
    throw new ApiError('UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${PATCH_CONTENT_TYPES.join(', ')}`);
  }
  if (!body || body.length === 0) throw errors.badRequest('the patch body is empty');
  if (mt === 'application/apply-patch+yaml' && !opts.fieldManager) {
    throw errors.badRequest('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
  }
  return applyPatch(contentType ?? mt, current, body, opts);
}

/** Records the writer of a create/update/non-apply patch in metadata.managedFields. */
export function withManager(current: object | undefined, updated: object, manager: string, gvk: { group: string; version: string; kind: string }, subresource?: string): object {
  try {
    return recordUpdateManager(current, updated, manager, gvk, subresource);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    return updated; // bookkeeping must never turn a valid write into an error
  }
}

export function managerName(fieldManager: string | undefined, userAgent: string | undefined): string {
  return fieldManager ?? managerFromUserAgent(userAgent);
}
