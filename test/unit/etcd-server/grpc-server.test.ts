// The client port's gRPC server against grpc-js's client: unary answers and errors, streams both ways,
// deadlines, cancellation, unknown methods, oversized and malformed requests; and its framing helpers.
import t from 'tap';
import type { Test } from 'tap';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { GrpcServer, MessageReader, frameMessage, parseGrpcTimeout } from '../../../control/etcd/server/grpc-server.ts';
import type { ServiceHandlers, StreamCall } from '../../../control/etcd/server/grpc-server.ts';

const text = (b: Buffer) => b.toString();
const bytes = (s: string) => Buffer.from(s);
const method = (name: string, requestStream: boolean, responseStream: boolean) => ({
  path: `/test.Echo/${name}`, requestStream, responseStream, originalName: name,
  requestSerialize: bytes, requestDeserialize: (b: Buffer) => {
    if (b.toString() === 'malformed') throw new Error('bad bytes');
    return text(b);
  },
  responseSerialize: bytes, responseDeserialize: text,
});
const definition = {
  Echo: method('Echo', false, false),
  Count: method('Count', false, true),
  Chat: method('Chat', true, true),
} as unknown as grpc.ServiceDefinition;

async function start(t: Test, handlers: ServiceHandlers, maxReceiveMessageBytes = 1024) {
  const server = new GrpcServer({ maxReceiveMessageBytes });
  server.addService(definition, handlers);
  const listener = net.createServer((socket) => server.handleConnection(socket));
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const Client = grpc.makeGenericClientConstructor(definition as never, 'Echo');
  const client = new Client(`127.0.0.1:${(listener.address() as net.AddressInfo).port}`, grpc.credentials.createInsecure()) as any;
  t.teardown(async () => {
    client.close();
    server.close();
    await new Promise((r) => listener.close(r));
  });
  return client;
}

const unaryCall = (client: any, name: string, req: string, options: grpc.CallOptions = {}) =>
  new Promise<{ err: grpc.ServiceError | null; res?: string }>((resolve) => {
    client[name](req, new grpc.Metadata(), options, (err: grpc.ServiceError | null, res?: string) => resolve({ err, res }));
  });

t.test('unary: the answer, an error status with its message, and a handler that throws', async (t) => {
  const client = await start(t, {
    Echo: (call, cb) => {
      const req = call.request as string;
      if (req === 'fail') cb({ code: grpc.status.NOT_FOUND, details: 'etcdserver: requested lease not found (ünïcode)' });
      else if (req === 'throw') throw new Error('handler bug');
      else cb(null, `echo ${req}`);
    },
  });
  t.same(await unaryCall(client, 'Echo', 'hi'), { err: null, res: 'echo hi' });
  const failed = await unaryCall(client, 'Echo', 'fail');
  t.equal(failed.err?.code, grpc.status.NOT_FOUND);
  t.equal(failed.err?.details, 'etcdserver: requested lease not found (ünïcode)', 'grpc-message round-trips its percent-encoding');
  const thrown = await unaryCall(client, 'Echo', 'throw');
  t.equal(thrown.err?.code, grpc.status.INTERNAL);
  t.match(thrown.err?.details, /handler bug/);
  t.same(await unaryCall(client, 'Echo', 'again'), { err: null, res: 'echo again' }, 'the server keeps serving');
});

t.test('bad requests: unknown method, oversized and malformed messages', async (t) => {
  const client = await start(t, { Echo: (call, cb) => cb(null, call.request) }, 16);
  const Other = grpc.makeGenericClientConstructor({ Nope: { ...method('Nope', false, false), path: '/test.Echo/Nope' } } as never, 'Echo');
  const other = new Other(client.getChannel().getTarget().replace(/^dns:/, ''), grpc.credentials.createInsecure()) as any;
  t.teardown(() => other.close());
  const unknown = await unaryCall(other, 'Nope', 'x');
  t.equal(unknown.err?.code, grpc.status.UNIMPLEMENTED);
  t.match(unknown.err?.details, '/test.Echo/Nope');
  const big = await unaryCall(client, 'Echo', 'x'.repeat(17));
  t.equal(big.err?.code, grpc.status.RESOURCE_EXHAUSTED);
  t.match(big.err?.details, 'received message larger than max (17 vs. 16)');
  const malformed = await unaryCall(client, 'Echo', 'malformed');
  t.equal(malformed.err?.code, grpc.status.INTERNAL);
  t.match(malformed.err?.details, /deserializing request: bad bytes/);
  t.same(await unaryCall(client, 'Echo', 'ok'), { err: null, res: 'ok' });
});

t.test('a deadline ends a slow call with DEADLINE_EXCEEDED and cancels it for the handler', async (t) => {
  let cancelled = false;
  const client = await start(t, {
    Count: (call: StreamCall) => { call.on('cancelled', () => { cancelled = true; }); },
  });
  const stream = client.Count('x', { deadline: Date.now() + 200 });
  const err = await new Promise<grpc.ServiceError>((resolve) => { stream.on('error', resolve); stream.on('data', () => {}); });
  t.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
  for (let i = 0; i < 50 && !cancelled; i++) await new Promise((r) => setTimeout(r, 10));
  t.ok(cancelled, 'the handler heard cancelled');
  t.equal(parseGrpcTimeout('200m'), 200);
  t.equal(parseGrpcTimeout('3S'), 3000);
  t.equal(parseGrpcTimeout('1H'), 3_600_000);
  t.equal(parseGrpcTimeout('5000u'), 5);
  t.equal(parseGrpcTimeout('123456789S'), undefined, 'more than 8 digits');
  t.equal(parseGrpcTimeout('10x'), undefined);
});

t.test('server streaming: messages in order, then OK; an error after messages ends it with that status', async (t) => {
  const client = await start(t, {
    Count: (call: StreamCall) => {
      const n = Number(call.request);
      for (let i = 1; i <= n; i++) call.write(String(i));
      if (n === 2) call.destroy(Object.assign(new Error('stopped'), { code: grpc.status.ABORTED, details: 'stopped at 2' }));
      else call.end();
    },
  });
  const collect = (req: string) => new Promise<{ got: string[]; err?: grpc.ServiceError }>((resolve) => {
    const got: string[] = [];
    const s = client.Count(req);
    s.on('data', (m: string) => got.push(m));
    s.on('error', (err: grpc.ServiceError) => resolve({ got, err }));
    s.on('end', () => resolve({ got }));
  });
  t.same(await collect('3'), { got: ['1', '2', '3'] });
  const stopped = await collect('2');
  t.same(stopped.got, ['1', '2']);
  t.equal(stopped.err?.code, grpc.status.ABORTED);
  t.equal(stopped.err?.details, 'stopped at 2');
});

t.test('bidirectional streaming: each message answered, the client half-close ends it, a cancel reaches the handler', async (t) => {
  let cancels = 0;
  const client = await start(t, {
    Chat: (call: StreamCall) => {
      let hold = false; // 'hold': keep the call open after the client's half-close
      call.on('data', (m: string) => { if (m === 'hold') hold = true; call.write(`re: ${m}`); });
      call.on('end', () => { if (!hold) call.end(); });
      call.on('cancelled', () => { cancels++; });
    },
  });
  const chat = client.Chat();
  const got: string[] = [];
  chat.on('data', (m: string) => got.push(m));
  const ended = new Promise<void>((r) => chat.on('end', r));
  chat.write('a');
  chat.write('b');
  chat.end();
  await ended;
  t.same(got, ['re: a', 're: b']);
  t.equal(cancels, 0, 'a clean end is not a cancel');
  const second = client.Chat();
  second.on('error', () => {});
  const first = new Promise((r) => second.once('data', r));
  second.write('hold');
  await first;
  second.cancel();
  for (let i = 0; i < 50 && cancels === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(cancels, 1, 'the handler heard the cancel');
});

t.test('framing: messages split across and packed into DATA chunks; compressed ones refused', async (t) => {
  const reader = new MessageReader(100);
  const a = frameMessage(bytes('hello')), b = frameMessage(bytes('')), c = frameMessage(bytes('world!'));
  const all = Buffer.concat([a, b, c]);
  const got: string[] = [];
  const cuts = [0, 3, 7, all.length]; // inside the first prefix, inside the first payload, the rest at once
  for (let i = 1; i < cuts.length; i++) {
    for (const m of reader.push(all.subarray(cuts[i - 1], cuts[i]))) got.push(m.toString());
  }
  t.same(got, ['hello', '', 'world!']);
  t.equal(reader.partial, 0);
  const compressed = frameMessage(bytes('zz'));
  compressed[0] = 1;
  t.throws(() => new MessageReader(100).push(compressed), { code: grpc.status.UNIMPLEMENTED });
  t.throws(() => new MessageReader(4).push(frameMessage(bytes('12345'))), { code: grpc.status.RESOURCE_EXHAUSTED });
});
