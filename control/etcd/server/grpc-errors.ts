// One place where errors become gRPC statuses. EtcdErrors carry etcd's code and text; anything else is a
// bug on our side and answers INTERNAL without taking the server down.
import type { GrpcStatus, UnaryHandler } from './grpc-server.ts';
import { EtcdError, grpcCode } from '../mvcc/errors.ts';

export function toServiceError(err: unknown): GrpcStatus {
  if (err instanceof EtcdError) return { code: err.code, details: err.message };
  return { code: grpcCode.INTERNAL, details: `etcdserver: ${err instanceof Error ? err.message : String(err)}` };
}

/** Wrap an async unary handler: resolve -> response, reject -> gRPC error. */
export function unary<Req, Res>(fn: (req: Req) => Promise<Res> | Res): UnaryHandler {
  return (call, callback) => {
    let p: Promise<Res>;
    try { p = Promise.resolve(fn(call.request as Req)); } catch (err) { p = Promise.reject(err); }
    p.then((res) => callback(null, res), (err: unknown) => callback(toServiceError(err)));
  };
}
