// The etcd v3 wire shapes as decoded by control/etcd/proto/load.ts (keepCase, int64 as decimal strings,
// enums as names, bytes as Buffer, defaults present). Revisions inside the keyspace are plain numbers
// (they stay far below 2^53); lease IDs stay strings because clients may pick any int64.

export interface KeyValue {
  key: Buffer;
  create_revision: number;
  mod_revision: number;
  version: number;
  value: Buffer;
  lease: string;
}

export type EventType = 'PUT' | 'DELETE';
export interface Event { type: EventType; kv: KeyValue; prev_kv?: KeyValue }

export type Int64 = string | number;

export interface RangeRequest {
  key: Buffer; range_end?: Buffer; limit?: Int64; revision?: Int64;
  sort_order?: 'NONE' | 'ASCEND' | 'DESCEND'; sort_target?: 'KEY' | 'VERSION' | 'CREATE' | 'MOD' | 'VALUE';
  serializable?: boolean; keys_only?: boolean; count_only?: boolean;
  min_mod_revision?: Int64; max_mod_revision?: Int64; min_create_revision?: Int64; max_create_revision?: Int64;
}
export interface RangeResponse { kvs: KeyValue[]; more: boolean; count: number }

export interface PutRequest { key: Buffer; value?: Buffer; lease?: Int64; prev_kv?: boolean; ignore_value?: boolean; ignore_lease?: boolean }
export interface PutResponse { prev_kv?: KeyValue }

export interface DeleteRangeRequest { key: Buffer; range_end?: Buffer; prev_kv?: boolean }
export interface DeleteRangeResponse { deleted: number; prev_kvs: KeyValue[] }

export interface RequestOp {
  request?: 'request_range' | 'request_put' | 'request_delete_range' | 'request_txn';
  request_range?: RangeRequest | null; request_put?: PutRequest | null;
  request_delete_range?: DeleteRangeRequest | null; request_txn?: TxnRequest | null;
}
export interface ResponseOp {
  response: 'response_range' | 'response_put' | 'response_delete_range' | 'response_txn';
  response_range?: RangeResponse; response_put?: PutResponse;
  response_delete_range?: DeleteRangeResponse; response_txn?: TxnResponse;
}

export type CompareResult = 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL';
export type CompareTarget = 'VERSION' | 'CREATE' | 'MOD' | 'VALUE' | 'LEASE';
export interface Compare {
  result?: CompareResult; target?: CompareTarget; key: Buffer; range_end?: Buffer;
  target_union?: 'version' | 'create_revision' | 'mod_revision' | 'value' | 'lease';
  version?: Int64 | null; create_revision?: Int64 | null; mod_revision?: Int64 | null; value?: Buffer | null; lease?: Int64 | null;
}
export interface TxnRequest { compare?: Compare[]; success?: RequestOp[]; failure?: RequestOp[] }
export interface TxnResponse { succeeded: boolean; responses: ResponseOp[] }

export interface CompactionRequest { revision: Int64; physical?: boolean }
export interface LeaseGrantRequest { TTL: Int64; ID: Int64 }
export interface LeaseGrantResponse { ID: string; TTL: number; error: string }
export interface LeaseRevokeRequest { ID: Int64 }
