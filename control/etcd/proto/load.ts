// Loads the etcd v3 API for gRPC (services) and for our own log encoding (InternalRequest).
// Wire conventions used everywhere in control/etcd: snake_case field names as in the .proto (keepCase),
// int64/uint64 decoded as decimal strings (lease and member IDs use all 64 bits), enums as their names,
// bytes as Buffer, every field present (defaults) and the chosen oneof member named (oneofs).
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const dir = path.dirname(fileURLToPath(import.meta.url));

export const conversion = { keepCase: true, longs: String, enums: String, bytes: Buffer, defaults: true, oneofs: true } as const;

let services: grpc.GrpcObject | undefined;

/** The etcdserverpb package with KV, Watch, Lease, Cluster and Maintenance service definitions. */
export function etcdServices(): { KV: grpc.ServiceClientConstructor; Watch: grpc.ServiceClientConstructor;
  Lease: grpc.ServiceClientConstructor; Cluster: grpc.ServiceClientConstructor; Maintenance: grpc.ServiceClientConstructor } {
  if (!services) {
    const def = protoLoader.loadSync('rpc.proto', { ...conversion, includeDirs: [dir] });
    services = grpc.loadPackageDefinition(def);
  }
  return services.etcdserverpb as never;
}

let root: protobuf.Root | undefined;
function protoRoot(): protobuf.Root {
  if (!root) {
    root = new protobuf.Root();
    root.resolvePath = (_origin, target) => path.join(dir, path.basename(target));
    root.loadSync('internal.proto', { keepCase: true });
    root.resolveAll();
  }
  return root;
}

/** A protobuf message type by its full name, e.g. "ktsetcd.InternalRequest" or "mvccpb.KeyValue". */
export function messageType(name: string): protobuf.Type {
  return protoRoot().lookupType(name);
}

const toObjectOptions: protobuf.IConversionOptions = { longs: String, enums: String, bytes: Buffer as never, defaults: true, oneofs: true };

export function encodeMessage(type: protobuf.Type, value: object): Uint8Array {
  return type.encode(type.fromObject(value)).finish();
}

export function decodeMessage<T>(type: protobuf.Type, bytes: Uint8Array): T {
  return type.toObject(type.decode(bytes), toObjectOptions) as T;
}
