// Errors the store answers with, worded exactly as etcd's gRPC errors (clients match on the text),
// each with the gRPC status code etcd uses. Pure data: the gRPC layer turns them into status errors.

export const grpcCode = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, UNIMPLEMENTED: 12,
  INVALID_ARGUMENT: 3, NOT_FOUND: 5, ALREADY_EXISTS: 6, FAILED_PRECONDITION: 9, OUT_OF_RANGE: 11,
  UNAVAILABLE: 14, RESOURCE_EXHAUSTED: 8, DEADLINE_EXCEEDED: 4, INTERNAL: 13,
} as const;

export class EtcdError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'EtcdError';
    this.code = code;
  }
}

const e = (code: number, message: string) => () => new EtcdError(code, message);

export const etcdErrors = {
  compacted: e(grpcCode.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'),
  futureRev: e(grpcCode.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'),
  emptyKey: e(grpcCode.INVALID_ARGUMENT, 'etcdserver: key is not provided'),
  keyNotFound: e(grpcCode.INVALID_ARGUMENT, 'etcdserver: key not found'),
  valueProvided: e(grpcCode.INVALID_ARGUMENT, 'etcdserver: value is provided'),
  leaseProvided: e(grpcCode.INVALID_ARGUMENT, 'etcdserver: lease is provided'),
  tooManyOps: e(grpcCode.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'),
  duplicateKey: e(grpcCode.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'),
  leaseNotFound: e(grpcCode.NOT_FOUND, 'etcdserver: requested lease not found'),
  leaseExists: e(grpcCode.FAILED_PRECONDITION, 'etcdserver: lease already exists'),
  leaseTTLTooLarge: e(grpcCode.OUT_OF_RANGE, 'etcdserver: too large lease TTL'),
  requestTooLarge: e(grpcCode.INVALID_ARGUMENT, 'etcdserver: request is too large'),
  memberNotFound: e(grpcCode.NOT_FOUND, 'etcdserver: member not found'),
  memberExists: e(grpcCode.FAILED_PRECONDITION, 'etcdserver: member ID already exist'),
  peerURLExists: e(grpcCode.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists'),
  noLeader: e(grpcCode.UNAVAILABLE, 'etcdserver: no leader'),
  notLeader: e(grpcCode.FAILED_PRECONDITION, 'etcdserver: not leader'),
  stopped: e(grpcCode.UNAVAILABLE, 'etcdserver: server stopped'),
  timeout: e(grpcCode.UNAVAILABLE, 'etcdserver: request timed out'),
  tooManyRequests: e(grpcCode.RESOURCE_EXHAUSTED, 'etcdserver: too many requests'),
  badRequest: (what: string) => new EtcdError(grpcCode.INVALID_ARGUMENT, `etcdserver: ${what}`),
};
