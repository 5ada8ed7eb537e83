/**
 * The live server against real ws clients and real HTTP requests. The engine is the replay
 * fixture (test/helpers/replay-engine.ts), stepped by hand so every frame is deliberate.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, isFxsError } from '../src/common/errors.js';
import { TASKS } from '../src/model/contract.js';
import type { StreamInfo } from '../src/stream/engine.js';
import { MAX_CLIENT_MESSAGE_BYTES, PROTOCOL_VERSION } from '../src/stream/protocol.js';
import { startServer, type RunningServer } from '../src/stream/server.js';
import { ReplayEngine } from './helpers/replay-engine.js';
import { TestClient } from './helpers/ws-client.js';

const wsUrl = (server: RunningServer, query = '') =>
  `${server.url.replace('http', 'ws')}ws${query}`;

describe('the WebSocket feed', () => {
  let engine: ReplayEngine;
  let server: RunningServer;
  let duo: StreamInfo;
  let solo: StreamInfo;

  before(async () => {
    engine = new ReplayEngine({ fps: 0 });
    duo = await engine.addStream({ url: 'replay:duo', name: 'Lobby' });
    solo = await engine.addStream({ url: 'replay:solo', name: 'Door' });
    server = await startServer({ engine, port: 0, previewFps: 50 });
  });

  after(async () => {
    await server.close();
    engine.close();
  });

  it('greets with protocol 1, the server version, the model and the streams', async () => {
    const client = await TestClient.open(wsUrl(server));
    const hello = await client.next('hello');

    assert.equal(hello.protocol, PROTOCOL_VERSION);
    assert.equal(hello.server.name, 'facexstream');
    assert.match(hello.server.version, /^\d+\.\d+\.\d+/);
    assert.equal(hello.model.name, 'replay-fixture');
    assert.deepEqual(hello.model.tasks, [...TASKS]);
    assert.equal(hello.model.labels.age.length, 8);
    assert.deepEqual(
      hello.streams.map((s) => s.id),
      [duo.id, solo.id],
    );
    await client.close();
  });

  it('sends no results before subscribe, then results of every stream with every task', async () => {
    const client = await TestClient.open(wsUrl(server));
    await client.next('hello');
    engine.step();
    await client.request({ type: 'ping', id: 'sync' }, 'pong');
    assert.equal(client.all('results').length, 0);

    const subscribed = await client.request({ type: 'subscribe', previews: false }, 'subscribed');
    assert.equal(subscribed.streams, null);
    engine.step();
    const fromDuo = await client.next('results', (m) => m.stream === duo.id && m.frame === 1);
    await client.next('results', (m) => m.stream === solo.id && m.frame === 1);

    assert.equal(fromDuo.faces.length, 2);
    assert.equal(fromDuo.width, 640);
    const face = fromDuo.faces[0];
    assert.equal(face.landmarks?.length, 68);
    assert.ok(face.parsing && face.parsing.rle.length > 2);
    assert.ok(
      face.age && face.gender && face.race && face.headPose && face.attributes && face.visibility,
    );
    await client.close();
  });

  it('gives a new subscriber the latest results at once', async () => {
    engine.step();
    const client = await TestClient.open(wsUrl(server));
    await client.next('hello');
    client.send({ type: 'subscribe', previews: false });

    const latest = await client.next('results', (m) => m.stream === duo.id);
    assert.equal(latest.frame, engine.getStream(duo.id)!.stats.framesOut - 1);
    await client.close();
  });

  it('sends only the subscribed streams', async () => {
    const client = await TestClient.open(wsUrl(server));
    await client.next('hello');
    await client.request({ type: 'subscribe', streams: [solo.id], previews: false }, 'subscribed');
    const from = client.messages.length;

    engine.step();
    engine.step();
    await client.next(
      'results',
      (m) => m.frame === engine.getStream(solo.id)!.stats.framesOut - 1,
      { from },
    );
    await client.request({ type: 'ping' }, 'pong');

    const streams = new Set(client.all('results').map((m) => m.stream));
    assert.deepEqual([...streams], [solo.id]);
    await client.close();
  });

  it('cuts each face down to the subscribed tasks', async () => {
    const client = await TestClient.open(wsUrl(server));
    await client.next('hello');
    const subscribed = await client.request(
      { type: 'subscribe', tasks: ['landmarks', 'age'], previews: false },
      'subscribed',
    );
    assert.deepEqual(subscribed.tasks, ['age', 'landmarks']);
    const from = client.messages.length;

    engine.step();
    const results = await client.next('results', (m) => m.stream === duo.id, { from });
    const keys = Object.keys(results.faces[0]).sort();
    assert.deepEqual(keys, ['age', 'box', 'id', 'landmarks', 'score', 'updated']);
    assert.deepEqual(Object.keys(results.faces[0].updated ?? {}).sort(), ['age', 'landmarks']);
    await client.close();
  });

  it('sends preview JPEGs with the frame size after their results, and none when previews are off', async () => {
    const withPreviews = await TestClient.open(wsUrl(server));
    const without = await TestClient.open(wsUrl(server));
    await withPreviews.next('hello');
    await without.next('hello');
    await withPreviews.request({ type: 'subscribe', streams: [duo.id] }, 'subscribed');
    await without.request({ type: 'subscribe', streams: [duo.id], previews: false }, 'subscribed');
    const from = withPreviews.messages.length;

    await sleep(30);
    engine.step(duo.id);
    const frameIndex = engine.getStream(duo.id)!.stats.framesOut - 1;
    const preview = await withPreviews.next('frame', (m) => m.frame === frameIndex, { from });

    const jpeg = Buffer.from(preview.jpeg, 'base64');
    assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    assert.equal(preview.width, 640);
    assert.equal(preview.height, 360);
    const order = withPreviews.messages
      .slice(from)
      .map((m) => `${m.type}:${'frame' in m ? m.frame : ''}`);
    assert.ok(order.indexOf(`results:${frameIndex}`) < order.indexOf(`frame:${frameIndex}`));

    await without.request({ type: 'ping' }, 'pong');
    assert.equal(without.all('frame').length, 0);
    await withPreviews.close();
    await without.close();
  });

  it('answers ping with pong carrying the same id', async () => {
    const client = await TestClient.open(wsUrl(server));
    await client.next('hello');

    const pong = await client.request({ type: 'ping', id: 42 }, 'pong');
    assert.equal(pong.id, 42);
    assert.ok(Math.abs(pong.time - Date.now()) < 60_000);
    await client.close();
  });

  describe('refuses bad client messages and keeps the connection', () => {
    const cases: Array<[string, unknown, boolean?]> = [
      ['text that is not JSON', 'hello there'],
      ['JSON that is not an object', '[1, 2, 3]'],
      ['a message without a type', { streams: [] }],
      ['an unknown type', { type: 'unsubscribe' }],
      ['a subscribe with an unknown task', { type: 'subscribe', tasks: ['nose'] }],
      ['a subscribe with streams that is not a list', { type: 'subscribe', streams: 'lobby' }],
      ['a subscribe with an unknown field', { type: 'subscribe', preview: true }],
      ['a ping with an object id', { type: 'ping', id: { a: 1 } }],
      ['a binary message', Buffer.from('{"type":"ping"}'), true],
      [
        'a message over 64 KB',
        JSON.stringify({ type: 'ping', id: 'x'.repeat(MAX_CLIENT_MESSAGE_BYTES) }),
      ],
    ];

    for (const [name, message, binary] of cases) {
      it(`answers ${name} with an error`, async () => {
        const client = await TestClient.open(wsUrl(server));
        await client.next('hello');

        const error = await client.request(message, 'error', binary);
        assert.equal(error.code, ErrorCodes.BAD_REQUEST);
        assert.ok(error.message.length > 0 && error.message.length < 300);

        const pong = await client.request({ type: 'ping', id: 'still-there' }, 'pong');
        assert.equal(pong.id, 'still-there');
        await client.close();
      });
    }

    it('answers a subscribe to an unknown stream with STREAM_NOT_FOUND', async () => {
      const client = await TestClient.open(wsUrl(server));
      await client.next('hello');

      const error = await client.request({ type: 'subscribe', streams: ['garage'] }, 'error');
      assert.equal(error.code, ErrorCodes.STREAM_NOT_FOUND);
      assert.match(error.message, /garage/);
      await client.close();
    });
  });

  it('announces state changes and removals of followed streams', async () => {
    const client = await TestClient.open(wsUrl(server));
    await client.next('hello');

    engine.setState(solo.id, 'reconnecting', 'lost rtsp://admin:hunter2@cam/solo');
    const change = await client.next('stream', (m) => m.stream.state === 'reconnecting');
    assert.equal(change.stream.id, solo.id);
    assert.doesNotMatch(change.stream.error ?? '', /hunter2/);

    const extra = await engine.addStream({ url: 'replay:empty', name: 'Spare' });
    await client.next('stream', (m) => m.stream.id === extra.id);
    await engine.removeStream(extra.id);
    const removed = await client.next('removed');
    assert.equal(removed.stream, extra.id);

    engine.setState(solo.id, 'playing');
    await client.close();
  });

  it('sends stats about once a second', async () => {
    const client = await TestClient.open(wsUrl(server));
    await client.next('hello');

    const first = await client.next('stats', () => true, { timeoutMs: 2500 });
    const count = client.all('stats').length;
    await client.next('stats', () => true, {
      timeoutMs: 2500,
      from: client.messages.indexOf(first) + 1,
    });
    assert.ok(client.all('stats').length > count);
    assert.ok(first.streams.some((s) => s.id === duo.id && typeof s.stats.fpsIn === 'number'));
    await client.close();
  });
});

describe('a slow client', () => {
  it('loses old results while a fast client gets every frame without delay', async (t) => {
    const engine = new ReplayEngine({ fps: 0 });
    const stream = await engine.addStream({ url: 'replay:trio' });
    const server = await startServer({ engine, port: 0, clientBufferBytes: 256 * 1024 });
    t.after(async () => {
      await server.close();
      engine.close();
    });
    const fast = await TestClient.open(wsUrl(server));
    const slow = await TestClient.open(wsUrl(server));
    await fast.request({ type: 'subscribe', previews: false }, 'subscribed');
    await slow.request({ type: 'subscribe', previews: false }, 'subscribed');
    const fastFrom = fast.messages.length;
    slow.socket.pause();

    const frames = 400;
    for (let i = 0; i < frames; i++) {
      engine.step();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const last = engine.getStream(stream.id)!.stats.framesOut - 1;
    await fast.next('results', (m) => m.frame === last, { from: fastFrom, timeoutMs: 10_000 });

    const fastFrames = fast.all('results').map((m) => m.frame);
    const expected = Array.from({ length: frames }, (_, i) => last - frames + 1 + i);
    assert.deepEqual(fastFrames.slice(-frames), expected);

    const metrics = await (await fetch(`${server.url}metrics`)).text();
    const dropped = Number(
      /fxs_ws_dropped_messages_total\{kind="results"\} (\d+)/.exec(metrics)?.[1] ?? 0,
    );
    assert.ok(dropped > 0, 'the slow client should have lost results');

    slow.socket.resume();
    await slow.next('results', (m) => m.frame === last, { timeoutMs: 10_000 });
    const slowFrames = slow.all('results').map((m) => m.frame);
    assert.ok(slowFrames.length < frames, `slow client got ${slowFrames.length} of ${frames}`);
    assert.deepEqual(
      slowFrames,
      [...slowFrames].sort((a, b) => a - b),
      'results stay in order',
    );
  });
});

describe('the HTTP API', () => {
  let engine: ReplayEngine;
  let server: RunningServer;
  let dashboard: string;

  before(async () => {
    engine = new ReplayEngine({ fps: 0 });
    await engine.addStream({ url: 'replay:duo', name: 'Lobby' });
    dashboard = await makeDashboardFixture();
    server = await startServer({ engine, port: 0, dashboardDir: join(dashboard, 'dist') });
  });

  after(async () => {
    await server.close();
    engine.close();
    await rm(dashboard, { recursive: true, force: true });
  });

  it('reports health with every stream and its state', async () => {
    const res = await fetch(`${server.url}healthz`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      status: string;
      streams: Array<{ id: string; state: string }>;
    };
    assert.equal(body.status, 'ok');
    assert.deepEqual(body.streams, [{ id: 'lobby', name: 'Lobby', state: 'playing' }]);
  });

  it('exports Prometheus metrics with the stream counters', async () => {
    engine.step();
    const res = await fetch(`${server.url}metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    for (const name of [
      'fxs_frames_in_total{stream="lobby"}',
      'fxs_frames_out_total{stream="lobby"}',
      'fxs_frames_dropped_total{stream="lobby"}',
      'fxs_faces{stream="lobby"} 2',
      'fxs_face_results_total{stream="lobby"}',
      'fxs_model_latency_seconds_bucket',
      'fxs_model_batch_size_bucket',
      'fxs_queue_depth',
      'fxs_ws_clients 0',
      'fxs_stream_state{stream="lobby",state="playing"} 1',
      'fxs_model_info{name="replay-fixture",device="cpu"} 1',
    ]) {
      assert.ok(text.includes(name), `missing ${name}`);
    }
  });

  it('counts model batches reported by the engine', async () => {
    server.metrics.observeBatch(4, 120);
    server.metrics.setQueueDepth('infer', 3);
    const text = await (await fetch(`${server.url}metrics`)).text();
    assert.match(text, /fxs_model_batch_size_count 1/);
    assert.match(text, /fxs_model_latency_seconds_bucket\{le="0.25"\} 1/);
    assert.match(text, /fxs_queue_depth\{queue="infer"\} 3/);
  });

  it('lists streams', async () => {
    const res = await fetch(`${server.url}api/streams`);
    assert.equal(res.status, 200);
    const streams = (await res.json()) as StreamInfo[];
    assert.deepEqual(
      streams.map((s) => s.id),
      ['lobby'],
    );
  });

  it('adds a stream with 201, a Location and a masked URL', async () => {
    const res = await postJson(server, {
      url: 'replay://admin:hunter2@cam/solo',
      name: 'Back door',
    });
    assert.equal(res.status, 201);
    const info = (await res.json()) as StreamInfo;
    assert.equal(info.id, 'back-door');
    assert.equal(res.headers.get('location'), '/api/streams/back-door');
    assert.doesNotMatch(JSON.stringify(info), /hunter2/);

    const one = await fetch(`${server.url}api/streams/back-door`);
    assert.equal(one.status, 200);
    const metrics = await (await fetch(`${server.url}metrics`)).text();
    assert.doesNotMatch(metrics, /hunter2/);
  });

  describe('refuses a bad stream request, naming the field', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['no url', { name: 'x' }, /^url: required/],
      ['an empty url', { url: '  ' }, /^url: /],
      [
        'an unknown detector',
        { url: 'replay:duo', detector: 'huge' },
        /^detector: expected one of/,
      ],
      ['an unknown task', { url: 'replay:duo', tasks: ['age', 'nose'] }, /^tasks\[1\]: /],
      ['a zero interval', { url: 'replay:duo', intervals: { age: 0 } }, /^intervals\.age: /],
      ['a negative fps', { url: 'replay:duo', fps: -5 }, /^fps: /],
      ['an unknown field', { url: 'replay:duo', fsp: 5 }, /unknown key "fsp"/],
      ['a body that is a list', [{ url: 'replay:duo' }], /^\(root\): /],
    ];
    for (const [name, body, message] of cases) {
      it(`answers ${name} with 400`, async () => {
        const res = await postJson(server, body);
        assert.equal(res.status, 400);
        const { error } = (await res.json()) as { error: { code: string; message: string } };
        assert.equal(error.code, ErrorCodes.BAD_REQUEST);
        assert.match(error.message, message);
      });
    }

    it('answers a body that is not JSON with 400', async () => {
      const res = await postJson(server, '{"url": ');
      assert.equal(res.status, 400);
    });

    it('answers another content type with 415', async () => {
      const res = await fetch(`${server.url}api/streams`, {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain' },
        body: JSON.stringify({ url: 'replay:duo' }),
      });
      assert.equal(res.status, 415);
    });

    it('answers a body over 64 KB with 413', async () => {
      const res = await postJson(server, { url: 'replay:duo', name: 'x'.repeat(70_000) });
      assert.equal(res.status, 413);
    });

    it("passes on the engine's refusal with its code, credentials masked", async () => {
      const res = await postJson(server, { url: 'rtsp://admin:hunter2@10.0.0.9/live' });
      assert.equal(res.status, 400);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, ErrorCodes.INPUT_NOT_FOUND);
      assert.doesNotMatch(error.message, /hunter2/);
    });
  });

  it('deletes a stream with 204 and answers an unknown id with 404', async () => {
    await postJson(server, { url: 'replay:empty', name: 'Temp' });

    const gone = await fetch(`${server.url}api/streams/temp`, { method: 'DELETE' });
    assert.equal(gone.status, 204);
    const again = await fetch(`${server.url}api/streams/temp`, { method: 'DELETE' });
    assert.equal(again.status, 404);
    const { error } = (await again.json()) as { error: { code: string } };
    assert.equal(error.code, ErrorCodes.STREAM_NOT_FOUND);
  });

  it('answers an unsupported method with 405', async () => {
    const res = await fetch(`${server.url}api/streams`, { method: 'PUT' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, POST');
  });

  it('serves index.html at / with a content security policy', async () => {
    const res = await fetch(server.url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.match(await res.text(), /fixture dashboard/);

    const asset = await fetch(`${server.url}assets/app.js`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
  });

  describe('serves nothing outside the dashboard folder', () => {
    const paths = [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/..%5csecret.txt',
      '//secret.txt',
      '/link.txt',
      '/assets/',
      '/%00index.html',
      '/%E0%A4%A',
    ];
    for (const path of paths) {
      it(`refuses ${path}`, async () => {
        const { status, body } = await rawGet(server, path);
        assert.ok(status === 404 || status === 400, `status ${status}`);
        assert.doesNotMatch(body, /TOP SECRET/);
      });
    }
  });
});

describe('access control', () => {
  let engine: ReplayEngine;

  before(async () => {
    engine = new ReplayEngine({ fps: 0 });
    await engine.addStream({ url: 'replay:solo' });
  });

  after(() => engine.close());

  it('refuses to listen on a network address without a token', async () => {
    await assert.rejects(startServer({ engine, host: '0.0.0.0', port: 0 }), (err) =>
      isFxsError(err, ErrorCodes.CONFIG_INVALID),
    );
  });

  it('listens on a network address with insecure set', async () => {
    const server = await startServer({ engine, host: '0.0.0.0', port: 0, insecure: true });
    const res = await fetch(`http://127.0.0.1:${server.port}/api/streams`);
    assert.equal(res.status, 200);
    await server.close();
  });

  it('refuses a port that is taken', async () => {
    const first = await startServer({ engine, port: 0 });
    await assert.rejects(startServer({ engine, port: first.port }), (err) =>
      isFxsError(err, ErrorCodes.CONFIG_INVALID),
    );
    await first.close();
  });

  it('refuses API misuse with RangeError', async () => {
    await assert.rejects(startServer({ engine, port: 70_000 }), RangeError);
    await assert.rejects(startServer({ engine, port: 0, previewFps: -1 }), RangeError);
  });

  describe('with a token', () => {
    let server: RunningServer;
    const token = 'correct-horse-battery-staple';

    before(async () => {
      server = await startServer({ engine, port: 0, token });
    });

    after(() => server.close());

    it('answers the API and metrics with 401 without the token', async () => {
      for (const path of ['api/streams', 'metrics']) {
        const res = await fetch(`${server.url}${path}`);
        assert.equal(res.status, 401, path);
        const { error } = (await res.json()) as { error: { code: string } };
        assert.equal(error.code, ErrorCodes.UNAUTHORIZED);
      }
      const wrong = await fetch(`${server.url}api/streams`, {
        headers: { Authorization: 'Bearer nope' },
      });
      assert.equal(wrong.status, 401);
    });

    it('accepts the token as a bearer header or a query parameter', async () => {
      const header = await fetch(`${server.url}api/streams`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      assert.equal(header.status, 200);
      const query = await fetch(`${server.url}metrics?token=${token}`);
      assert.equal(query.status, 200);
    });

    it('keeps health and the dashboard page open', async () => {
      assert.equal((await fetch(`${server.url}healthz`)).status, 200);
      assert.notEqual((await fetch(server.url)).status, 401);
    });

    it('refuses a WebSocket without the right token with 401', async () => {
      await assert.rejects(TestClient.open(wsUrl(server)), { status: 401 });
      await assert.rejects(TestClient.open(wsUrl(server, '?token=wrong')), { status: 401 });
    });

    it('accepts a WebSocket with the token in the URL or a header', async () => {
      const byQuery = await TestClient.open(wsUrl(server, `?token=${token}`));
      await byQuery.next('hello');
      const byHeader = await TestClient.open(wsUrl(server), { Authorization: `Bearer ${token}` });
      await byHeader.next('hello');
      await byQuery.close();
      await byHeader.close();
    });

    it('puts the token in the dashboard URL only', () => {
      assert.equal(server.dashboardUrl, `${server.url}?token=${token}`);
      assert.doesNotMatch(server.url, /token/);
    });
  });

  describe('without a token', () => {
    let server: RunningServer;

    before(async () => {
      server = await startServer({ engine, port: 0, allowedOrigins: ['https://nvr.example'] });
    });

    after(() => server.close());

    it('accepts WebSockets from its own origin, allowed origins and non-browsers', async () => {
      const own = await TestClient.open(wsUrl(server), { Origin: server.url.replace(/\/$/, '') });
      const allowed = await TestClient.open(wsUrl(server), { Origin: 'https://nvr.example' });
      const plain = await TestClient.open(wsUrl(server));
      for (const client of [own, allowed, plain]) {
        await client.next('hello');
        await client.close();
      }
    });

    it('refuses WebSockets from another origin with 403', async () => {
      await assert.rejects(TestClient.open(wsUrl(server), { Origin: 'https://evil.example' }), {
        status: 403,
      });
      await assert.rejects(TestClient.open(wsUrl(server), { Origin: 'null' }), { status: 403 });
    });

    it('refuses a state-changing request from another origin', async () => {
      const res = await fetch(`${server.url}api/streams`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Origin: 'https://evil.example' },
        body: JSON.stringify({ url: 'replay:duo' }),
      });
      assert.equal(res.status, 403);
      assert.equal(engine.listStreams().length, 1);
    });

    it('refuses API requests for a foreign Host name (DNS rebinding)', async () => {
      const { status } = await rawGet(server, '/api/streams', {
        Host: `rebind.example:${server.port}`,
      });
      assert.equal(status, 403);
      const local = await rawGet(server, '/api/streams', { Host: `localhost:${server.port}` });
      assert.equal(local.status, 200);
    });

    it('refuses WebSocket paths other than /ws with 404', async () => {
      await assert.rejects(TestClient.open(`${server.url.replace('http', 'ws')}socket`), {
        status: 404,
      });
    });
  });
});

function postJson(server: RunningServer, body: unknown): Promise<Response> {
  return fetch(`${server.url}api/streams`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A GET whose path is sent exactly as written (fetch would normalise `..`). */
function rawGet(
  server: RunningServer,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A dashboard folder with a secret file beside it and a link pointing at that file. */
async function makeDashboardFixture(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'fxs-dashboard-'));
  await mkdir(join(root, 'dist', 'assets'), { recursive: true });
  await writeFile(
    join(root, 'dist', 'index.html'),
    '<!doctype html><title>fixture dashboard</title>',
  );
  await writeFile(join(root, 'dist', 'assets', 'app.js'), 'console.log("app");');
  await writeFile(join(root, 'secret.txt'), 'TOP SECRET');
  await symlink(join(root, 'secret.txt'), join(root, 'dist', 'link.txt'));
  return root;
}
