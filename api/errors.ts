// Typed errors with stable codes, and the one place where they become a Kubernetes metav1.Status.
// Every component throws ApiError (or a subclass); the apiserver's HTTP layer calls toStatus().
import type { V1Status, V1StatusCause } from '@kubernetes/client-node';

export type StatusReason =
  | 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'NotFound' | 'AlreadyExists' | 'Conflict'
  | 'Invalid' | 'MethodNotAllowed' | 'NotAcceptable' | 'Gone' | 'Expired' | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType' | 'TooManyRequests' | 'InternalError' | 'ServiceUnavailable' | 'Timeout';

const httpCodeOf: Record<StatusReason, number> = {
  BadRequest: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, AlreadyExists: 409, Conflict: 409,
  Invalid: 422, MethodNotAllowed: 405, NotAcceptable: 406, Gone: 410, Expired: 410, RequestEntityTooLarge: 413,
  UnsupportedMediaType: 415, TooManyRequests: 429, InternalError: 500, ServiceUnavailable: 503, Timeout: 504,
};

export type CauseReason =
  | 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueDuplicate' | 'FieldValueNotSupported'
  | 'FieldValueForbidden' | 'FieldValueTooLong' | 'FieldManagerConflict' | 'ExitCode';

export interface Cause { reason: CauseReason; message: string; field?: string }

/** What the error is about, for Status.details: kind is the plural resource (or the Kind for Invalid). */
export interface ErrorSubject { group?: string; kind?: string; name?: string }

export class ApiError extends Error {
  readonly reason: StatusReason;
  readonly code: number;
  readonly subject: ErrorSubject;
  readonly causes: Cause[];
  constructor(reason: StatusReason, message: string, subject: ErrorSubject = {}, causes: Cause[] = []) {
    super(message);
    this.name = 'ApiError';
    this.reason = reason;
    this.code = httpCodeOf[reason];
    this.subject = subject;
    this.causes = causes;
  }
}

/** "pods" or "deployments.apps", the way upstream names a resource in messages. */
export function qualifiedResource(resource: string, group = ''): string {
  return group ? `${resource}.${group}` : resource;
}

export const errors = {
  notFound: (resource: string, name: string, group = '') =>
    new ApiError('NotFound', `${qualifiedResource(resource, group)} "${name}" not found`, { group, kind: resource, name }),
  alreadyExists: (resource: string, name: string, group = '') =>
    new ApiError('AlreadyExists', `${qualifiedResource(resource, group)} "${name}" already exists`, { group, kind: resource, name }),
  conflict: (resource: string, name: string, why: string, group = '') =>
    new ApiError('Conflict', `Operation cannot be fulfilled on ${qualifiedResource(resource, group)} "${name}": ${why}`,
      { group, kind: resource, name }),
  staleResourceVersion: (resource: string, name: string, group = '') =>
    errors.conflict(resource, name,
      'the object has been modified; please apply your changes to the latest version and try again', group),
  /** kind is the Kind ("Pod"), as upstream uses it in Invalid messages. */
  invalid: (kind: string, name: string, causes: Cause[], group = '') =>
    new ApiError('Invalid',
      `${group ? `${kind}.${group}` : kind} "${name}" is invalid: ${causes.map((c) => `${c.field ? `${c.field}: ` : ''}${c.message}`).join(', ')}`,
      { group, kind, name }, causes),
  badRequest: (message: string) => new ApiError('BadRequest', message),
  methodNotAllowed: (message: string) => new ApiError('MethodNotAllowed', message),
  unsupportedMediaType: (contentType: string) =>
    new ApiError('UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got "${contentType}")`),
  tooLarge: (limit: number) => new ApiError('RequestEntityTooLarge', `the request body is larger than the limit of ${limit} bytes`),
  expired: (message: string) => new ApiError('Expired', message),
  gone: (message: string) => new ApiError('Gone', message),
  forbidden: (message: string, subject: ErrorSubject = {}) => new ApiError('Forbidden', message, subject),
  unauthorized: () => new ApiError('Unauthorized', 'Unauthorized'),
  tooManyRequests: (message: string) => new ApiError('TooManyRequests', message),
  timeout: (message: string) => new ApiError('Timeout', message),
  unavailable: (message: string) => new ApiError('ServiceUnavailable', message),
  internal: (message: string) => new ApiError('InternalError', message),
};

/** Field-level causes, named the way upstream field paths are written ("spec.containers[0].name"). */
export const cause = {
  required: (field: string, message = 'Required value'): Cause => ({ reason: 'FieldValueRequired', field, message }),
  invalid: (field: string, value: unknown, detail: string): Cause =>
    ({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` }),
  duplicate: (field: string, value: unknown): Cause =>
    ({ reason: 'FieldValueDuplicate', field, message: `Duplicate value: ${JSON.stringify(value)}` }),
  notSupported: (field: string, value: unknown, allowed: string[]): Cause =>
    ({ reason: 'FieldValueNotSupported', field,
       message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${allowed.map((a) => `"${a}"`).join(', ')}` }),
  forbidden: (field: string, detail: string): Cause => ({ reason: 'FieldValueForbidden', field, message: `Forbidden: ${detail}` }),
  tooLong: (field: string, max: number): Cause =>
    ({ reason: 'FieldValueTooLong', field, message: `Too long: may not be more than ${max} bytes` }),
};

/** Any thrown value becomes a Status; unknown errors are InternalError without leaking internals. */
export function toStatus(err: unknown): V1Status & { code: number } {
  const e = err instanceof ApiError ? err : errors.internal(err instanceof Error ? err.message : String(err));
  const details: Record<string, unknown> = {};
  if (e.subject.name !== undefined) details.name = e.subject.name;
  if (e.subject.group) details.group = e.subject.group;
  if (e.subject.kind !== undefined) details.kind = e.subject.kind;
  if (e.causes.length) details.causes = e.causes as V1StatusCause[];
  const status: V1Status & { code: number } = {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: e.message, reason: e.reason, code: e.code,
  };
  if (Object.keys(details).length) status.details = details as V1Status['details'];
  return status;
}

export function successStatus(details?: { name?: string; kind?: string; group?: string; uid?: string }): V1Status {
  const s: V1Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' };
  if (details) s.details = details;
  return s;
}
