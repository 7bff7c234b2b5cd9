// placeholder, replaced by the server-side apply implementation
import { errors } from '../../../../api/errors.ts';
export function applyServerSide(_current: object | undefined, _body: Buffer, _opts: unknown): object {
  throw errors.badRequest('server-side apply is not implemented yet');
}
export function recordUpdateManager(_current: object | undefined, updated: object, _manager: string, _gvk: unknown): object {
  return updated;
}
