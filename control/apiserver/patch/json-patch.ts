// RFC 6902 JSON patch (application/json-patch+json). Syntax errors are 400 BadRequest; a well-formed patch that
// does not apply (missing path, failed test) is 422 like upstream (apiserver patch.go NewGenericServerResponse 422).
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { ApiError, errors } from '../../../api/errors.ts';
import { isObject, parseJsonBody, unprocessable, deepClone, type Json } from './body.ts';

/** upstream maxJSONPatchOperations */
export const MAX_JSON_PATCH_OPERATIONS = 10000;
const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

function checkOperations(patch: Json): Operation[] {
  if (!Array.isArray(patch)) throw errors.badRequest('json patch: the body must be a JSON array of operations');
  if (patch.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new ApiError('RequestEntityTooLarge',
      `The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${patch.length}`);
  }
  patch.forEach((op, i) => {
    if (!isObject(op)) throw errors.badRequest(`json patch: operation ${i} is not an object`);
    if (typeof op.op !== 'string' || !OPS.has(op.op)) throw unprocessable(`Unexpected kind: ${JSON.stringify(op.op ?? null)}`);
    if (typeof op.path !== 'string') throw unprocessable(`json patch: operation ${i} (${op.op}) is missing "path"`);
    if ((op.op === 'add' || op.op === 'replace' || op.op === 'test') && !('value' in op)) {
      throw unprocessable(`json patch: operation ${i} (${op.op} ${op.path}) is missing "value"`);
    }
    if ((op.op === 'move' || op.op === 'copy') && typeof op.from !== 'string') {
      throw unprocessable(`json patch: operation ${i} (${op.op} ${op.path}) is missing "from"`);
    }
  });
  return patch as unknown as Operation[];
}

function describe(err: unknown, ops: Operation[]): string {
  const e = err as { name?: string; index?: number; message?: string };
  const op = typeof e.index === 'number' ? ops[e.index] : undefined;
  const where = op ? `${op.op} operation on ${op.path}` : 'patch';
  switch (e.name) {
    case 'TEST_OPERATION_FAILED': return `testing value ${op?.path ?? ''} failed: test failed`;
    case 'OPERATION_PATH_UNRESOLVABLE': return `${where} does not apply: doc is missing path: ${op?.path ?? ''}: missing value`;
    case 'OPERATION_FROM_UNRESOLVABLE': return `${where} does not apply: doc is missing from path: ${(op as { from?: string })?.from ?? ''}`;
    case 'OPERATION_PATH_CANNOT_ADD': return `${where} does not apply: doc is missing path: ${op?.path ?? ''}`;
    case 'OPERATION_PATH_ILLEGAL_ARRAY_INDEX':
    case 'OPERATION_VALUE_OUT_OF_BOUNDS': return `${where} does not apply: invalid array index in ${op?.path ?? ''}`;
    case 'OPERATION_PATH_INVALID': return `${where}: invalid JSON pointer ${JSON.stringify(op?.path ?? '')}`;
    default: return `${where} does not apply: ${(e.message ?? String(err)).split('\n')[0]}`;
  }
}

/** Repeated "copy" operations can double a document each time; upstream caps the bytes they may add. */
export const ACCUMULATED_COPY_SIZE_LIMIT = 3 * 1024 * 1024;

export function applyJsonPatch(current: object, body: Buffer): object {
  const ops = checkOperations(parseJsonBody(body, 'json patch'));
  let doc: unknown = deepClone(current);
  let copied = 0;
  try {
    ops.forEach((op, i) => {
      if (op.op === 'copy') {
        let source: unknown;
        try { source = jsonpatch.getValueByPointer(doc, op.from); } catch { source = undefined; }
        copied += source === undefined ? 0 : (JSON.stringify(source)?.length ?? 0);
        if (copied > ACCUMULATED_COPY_SIZE_LIMIT) {
          throw unprocessable(`Unable to copy, the accumulated size increase of copy is ${copied}, exceeding the limit ${ACCUMULATED_COPY_SIZE_LIMIT}`);
        }
      }
      doc = jsonpatch.applyOperation(doc, deepClone(op), true, true, true, i).newDocument;
    });
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw unprocessable(describe(err, ops));
  }
  if (!isObject(doc as Json)) throw unprocessable('json patch: the result is not an object');
  return doc as object;
}
