import t from 'tap';
import protobuf from 'protobufjs';
import { decodeProtobufBody } from '../../../control/apiserver/protobuf/index.ts';
import { PROTO } from '../../../control/apiserver/protobuf/schema.ts';

const root = protobuf.parse(PROTO, { keepCase: true }).root;
function envelope(apiVersion: string, kind: string, raw: Uint8Array, contentEncoding = ''): Buffer {
  const Unknown = root.lookupType('k8s.Unknown');
  const body = Unknown.encode(Unknown.fromObject({ typeMeta: { apiVersion, kind }, raw, contentEncoding, contentType: '' })).finish();
  return Buffer.concat([Buffer.from('k8s\0', 'latin1'), body]);
}

t.test('garbage and unknown kinds', async (t) => {
  t.throws(() => decodeProtobufBody(Buffer.from('{"kind":"Pod"}')), { reason: 'BadRequest', code: 400, message: /k8s/ });
  t.throws(() => decodeProtobufBody(Buffer.from('k8s')), { reason: 'BadRequest', code: 400 });
  t.throws(() => decodeProtobufBody(Buffer.concat([Buffer.from('k8s\0', 'latin1'), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f])])),
    { reason: 'BadRequest', code: 400, message: /envelope/ });
  t.throws(() => decodeProtobufBody(envelope('example.com/v1', 'Widget', new Uint8Array())),
    { reason: 'UnsupportedMediaType', code: 415, message: /Widget/ });
  t.throws(() => decodeProtobufBody(envelope('v1', 'ConfigMap', new Uint8Array([0x0a, 0x05, 0x01]))),
    { reason: 'BadRequest', code: 400, message: /ConfigMap/ });
  t.throws(() => decodeProtobufBody(envelope('v1', 'ConfigMap', new Uint8Array(), 'gzip')), { reason: 'BadRequest', code: 400, message: /gzip/ });
  t.throws(() => decodeProtobufBody(envelope('', '', new Uint8Array())), { reason: 'BadRequest', code: 400, message: /apiVersion and kind/ });
});

t.test('an Eviction, times, quantities and embedded fields convert to the JSON shape', async (t) => {
  const Eviction = root.lookupType('k8s.Eviction');
  const ev = Eviction.encode(Eviction.fromObject({
    metadata: { name: 'p1', namespace: 'default', creationTimestamp: { seconds: 1700000000 } },
    deleteOptions: { gracePeriodSeconds: 5, preconditions: { uid: 'u-1' }, dryRun: ['All'] },
  })).finish();
  t.same(decodeProtobufBody(envelope('policy/v1', 'Eviction', ev)), {
    apiVersion: 'policy/v1', kind: 'Eviction',
    metadata: { name: 'p1', namespace: 'default', creationTimestamp: '2023-11-14T22:13:20Z' },
    deleteOptions: { gracePeriodSeconds: 5, preconditions: { uid: 'u-1' }, dryRun: ['All'] },
  });
  const Pod = root.lookupType('k8s.Pod');
  const pod = Pod.encode(Pod.fromObject({
    metadata: { name: 'p', managedFields: [{ manager: 'm', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { Raw: Buffer.from('{"f:spec":{}}') } }] },
    spec: {
      containers: [{
        name: 'c', image: 'i', resources: { limits: { cpu: { string: '500m' }, memory: { string: '1Gi' } } },
        env: [{ name: 'X', valueFrom: { configMapKeyRef: { localObjectReference: { name: 'cm' }, key: 'k' } } }],
        livenessProbe: { handler: { httpGet: { path: '/healthz', port: { type: 1, strVal: 'http' } } }, periodSeconds: 3 },
      }],
      volumes: [{ name: 'v', volumeSource: { emptyDir: { sizeLimit: { string: '64Mi' } } } }],
      terminationGracePeriodSeconds: 0,
    },
  })).finish();
  t.same(decodeProtobufBody(envelope('v1', 'Pod', pod)), {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'p', managedFields: [{ manager: 'm', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': {} } }] },
    spec: {
      containers: [{
        name: 'c', image: 'i', resources: { limits: { cpu: '500m', memory: '1Gi' } },
        env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } }],
        livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 3 },
      }],
      volumes: [{ name: 'v', emptyDir: { sizeLimit: '64Mi' } }],
      terminationGracePeriodSeconds: 0,
    },
  });
});
