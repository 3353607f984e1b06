/**
 * gRPC through the sidecar's h2c listener with a real @grpc/grpc-js client and server:
 * unary, server streaming, client streaming, bidi (200 messages), a non-OK status with its
 * message and custom trailing metadata, and the proxy's own answer (no healthy upstream)
 * as a gRPC status rather than a bare HTTP error.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { compile, serviceEntry, startProxy, type RunningProxy } from '../support/mesh.js';
import { withTimeout } from '../support/harness.js';

const sidecar = { role: 'sidecar' as const, namespace: 'default', labels: { app: 'client' } };

interface Msg {
  text: string;
  n?: number;
}

const ser = (m: Msg): Buffer => Buffer.from(JSON.stringify(m));
const de = (b: Buffer): Msg => JSON.parse(b.toString()) as Msg;
const method = (name: string, requestStream: boolean, responseStream: boolean) => ({
  path: `/test.Echo/${name}`,
  requestStream,
  responseStream,
  requestSerialize: ser,
  requestDeserialize: de,
  responseSerialize: ser,
  responseDeserialize: de,
});

/** The service, defined without a .proto file (JSON messages). */
const EchoService = {
  unary: method('Unary', false, false),
  fail: method('Fail', false, false),
  serverStream: method('ServerStream', false, true),
  clientStream: method('ClientStream', true, false),
  bidi: method('Bidi', true, true),
} satisfies grpc.ServiceDefinition;

type EchoClient = grpc.Client & Record<keyof typeof EchoService, (...args: unknown[]) => unknown>;
const EchoClientCtor = grpc.makeGenericClientConstructor(EchoService, 'Echo') as unknown as new (address: string, creds: grpc.ChannelCredentials, opts: grpc.ChannelOptions) => EchoClient;

let server: grpc.Server;
let serverPort: number;
let p: RunningProxy;
let client: EchoClient;
let noUpstream: EchoClient;

before(async () => {
  server = new grpc.Server();
  server.addService(EchoService, {
    unary: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      const md = new grpc.Metadata();
      md.set('x-trailer', 'unary-done');
      cb(null, { text: `echo:${call.request.text}:${call.getHost()}` }, md);
    },
    fail: (_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      const md = new grpc.Metadata();
      md.set('x-reason', 'quota exhausted');
      md.set('x-bin', Buffer.from([0, 1, 2, 255]));
      cb({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'too many: ünïcode ok', metadata: md });
    },
    serverStream: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      const n = call.request.n ?? 0;
      for (let i = 0; i < n; i++) call.write({ text: `item`, n: i });
      const md = new grpc.Metadata();
      md.set('x-count', String(n));
      call.end(md);
    },
    clientStream: (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      let sum = 0;
      let count = 0;
      call.on('data', (m: Msg) => {
        sum += m.n ?? 0;
        count++;
      });
      call.on('end', () => cb(null, { text: `count=${count}`, n: sum }));
    },
    bidi: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      call.on('data', (m: Msg) => call.write({ text: `pong:${m.text}`, n: m.n }));
      call.on('end', () => call.end());
    },
  });
  serverPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))),
  );
  const yaml =
    serviceEntry('echo', 'default', 50051, [{ port: serverPort, labels: { version: 'v1' } }], 'GRPC') +
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo}
spec:
  host: echo
  subsets:
  - {name: none, labels: {version: none}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: [echo]
  http:
  - match: [{headers: {x-route: {exact: nowhere}}}]
    route: [{destination: {host: echo, subset: none}}]
  - route: [{destination: {host: echo}}]
`;
  p = await startProxy(compile(yaml, sidecar));
  const opts: grpc.ChannelOptions = { 'grpc.default_authority': 'echo.default.svc.cluster.local:50051', 'grpc.enable_http_proxy': 0 };
  client = new EchoClientCtor(`127.0.0.1:${p.port}`, grpc.credentials.createInsecure(), opts);
  noUpstream = new EchoClientCtor(`127.0.0.1:${p.port}`, grpc.credentials.createInsecure(), opts);
});

after(async () => {
  client?.close();
  noUpstream?.close();
  await p?.close();
  await new Promise<void>((r) => (server ? server.tryShutdown(() => r()) : r()));
  server?.forceShutdown();
});

const deadline = (): grpc.CallOptions => ({ deadline: Date.now() + 10_000 });

interface UnaryOutcome {
  err: grpc.ServiceError | null;
  res: Msg | undefined;
  trailers: grpc.Metadata | null;
}

function unary(c: EchoClient, name: 'unary' | 'fail' | 'clientStream', req: Msg, md = new grpc.Metadata()): Promise<UnaryOutcome> {
  return withTimeout(
    new Promise<UnaryOutcome>((resolve) => {
      let trailers: grpc.Metadata | null = null;
      const call = (c[name] as (r: Msg, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Msg) => void) => grpc.ClientUnaryCall)(
        req,
        md,
        deadline(),
        (err, res) => setImmediate(() => resolve({ err, res, trailers })),
      );
      call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
    }),
    10_000,
    `grpc ${name}`,
  );
}

test('unary: response and custom trailing metadata arrive through the proxy; :authority is the service', { timeout: 20_000 }, async () => {
  const r = await unary(client, 'unary', { text: 'hi' });
  assert.equal(r.err, null);
  assert.equal(r.res?.text, 'echo:hi:echo.default.svc.cluster.local:50051');
  assert.deepEqual(r.trailers?.get('x-trailer'), ['unary-done']);
  const last = p.completed.at(-1)!;
  assert.equal(last.grpc, true);
  assert.equal(last.grpcStatus, '0');
  assert.equal(last.upstreamCluster, 'outbound|50051||echo.default.svc.cluster.local');
});

test('a non-OK status keeps its code, grpc-message and custom (text and binary) trailing metadata', { timeout: 20_000 }, async () => {
  const r = await unary(client, 'fail', { text: 'x' });
  assert.ok(r.err);
  assert.equal(r.err.code, grpc.status.RESOURCE_EXHAUSTED, r.err.details);
  assert.equal(r.err.details, 'too many: ünïcode ok');
  assert.deepEqual(r.err.metadata.get('x-reason'), ['quota exhausted']);
  assert.deepEqual(r.err.metadata.get('x-bin'), [Buffer.from([0, 1, 2, 255])]);
  assert.equal(p.completed.at(-1)!.grpcStatus, String(grpc.status.RESOURCE_EXHAUSTED));
});

test('server streaming: 150 messages in order, then the trailers', { timeout: 20_000 }, async () => {
  const got: number[] = [];
  const status = await withTimeout(
    new Promise<grpc.StatusObject>((resolve, reject) => {
      const call = (client.serverStream as (r: Msg, o: grpc.CallOptions) => grpc.ClientReadableStream<Msg>)({ text: 'go', n: 150 }, deadline());
      call.on('data', (m: Msg) => got.push(m.n ?? -1));
      call.on('status', resolve);
      call.on('error', reject);
    }),
    10_000,
    'server stream',
  );
  assert.equal(status.code, grpc.status.OK);
  assert.deepEqual(got, Array.from({ length: 150 }, (_, i) => i));
  assert.deepEqual(status.metadata.get('x-count'), ['150']);
});

test('client streaming: 120 messages summed by the server', { timeout: 20_000 }, async () => {
  const r = await withTimeout(
    new Promise<Msg>((resolve, reject) => {
      const call = (client.clientStream as (o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Msg) => void) => grpc.ClientWritableStream<Msg>)(
        deadline(),
        (e, res) => (e ? reject(e) : resolve(res!)),
      );
      for (let i = 1; i <= 120; i++) call.write({ text: 'n', n: i });
      call.end();
    }),
    10_000,
    'client stream',
  );
  assert.equal(r.text, 'count=120');
  assert.equal(r.n, (120 * 121) / 2);
});

test('bidi streaming: 200 ping/pong pairs, each answered before the next is sent', { timeout: 20_000 }, async () => {
  const n = 200;
  const call = (client.bidi as (o: grpc.CallOptions) => grpc.ClientDuplexStream<Msg, Msg>)(deadline());
  const got: Msg[] = [];
  const done = withTimeout(
    new Promise<grpc.StatusObject>((resolve, reject) => {
      call.on('status', resolve);
      call.on('error', reject);
    }),
    15_000,
    'bidi',
  );
  // Lock-step: proves messages flow both ways while the stream is open (no buffering until end).
  let next = 0;
  const send = (): void => {
    if (next === n) {
      call.end();
      return;
    }
    call.write({ text: `m${next}`, n: next });
    next++;
  };
  call.on('data', (m: Msg) => {
    got.push(m);
    send();
  });
  send();
  const status = await done;
  assert.equal(status.code, grpc.status.OK);
  assert.equal(got.length, n);
  got.forEach((m, i) => assert.deepEqual(m, { text: `pong:m${i}`, n: i }));
});

test('no healthy upstream: the proxy answers with grpc-status UNAVAILABLE and its message, not a bare 503', { timeout: 20_000 }, async () => {
  const md = new grpc.Metadata();
  md.set('x-route', 'nowhere');
  const r = await unary(noUpstream, 'unary', { text: 'x' }, md);
  assert.ok(r.err);
  assert.equal(r.err.code, grpc.status.UNAVAILABLE, r.err.details);
  assert.equal(r.err.details, 'no healthy upstream');
  const last = p.completed.at(-1)!;
  assert.equal(last.grpcStatus, '14');
  assert.equal(last.responseCode, 200);
});
