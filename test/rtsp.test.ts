import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ErrorCodes, isFxsError } from '../src/common/errors.js';
import { openSource, type FrameSource, type SourceOptions } from '../src/pipeline/open-source.js';
import type { Frame } from '../src/pipeline/types.js';
import { buildRtspServer, startRtspServer, type RtspServer } from './rtsp/server.js';

const DEMO = path.resolve('samples/demo.mp4');
const USER = 'viewer';
const PASSWORD = 'letmein-7731';
const build = buildRtspServer();
const skip = 'missing' in build ? build.missing : false;

/** Fast retries, so failures show within a few seconds. */
const QUICK: SourceOptions = {
  reconnect: { initialDelayMs: 100, maxDelayMs: 400, connectAttempts: 2, maxAttempts: 20 },
  connectTimeoutMs: 5000,
};

/** Everything a source said: states with their details, frames, and how frames() ended. */
interface Run {
  frames: Frame[];
  states: Array<{ state: string; detail?: string }>;
  error?: unknown;
}

function watch(source: FrameSource): Run {
  const run: Run = { frames: [], states: [] };
  source.on('state', (state: string, detail?: string) => run.states.push({ state, detail }));
  return run;
}

/** Reads frames until `until` says stop (then stops the source) or frames() ends. */
async function drive(
  source: FrameSource,
  run: Run,
  until: (run: Run) => boolean | Promise<boolean>,
) {
  try {
    for await (const frame of source.frames()) {
      run.frames.push(frame);
      if (await until(run)) break;
    }
  } catch (err) {
    run.error = err;
  }
  await source.stop();
}

function assertIncreasing(frames: Frame[]): void {
  for (let i = 1; i < frames.length; i++) {
    assert.ok(frames[i].timestampMs > frames[i - 1].timestampMs, `timestamp of frame ${i}`);
    assert.ok(frames[i].index > frames[i - 1].index, `index of frame ${i}`);
  }
}

function assertNoSecret(run: Run, secret: string): void {
  for (const { state, detail } of run.states) {
    assert.ok(!detail?.includes(secret), `state '${state}' detail shows the password: ${detail}`);
  }
  if (run.error instanceof Error) {
    assert.ok(!run.error.message.includes(secret), 'the error message shows the password');
    assert.ok(!String(run.error.stack).includes(secret), 'the error stack shows the password');
  }
}

describe('an RTSP source', { skip }, () => {
  const binary = 'binary' in build ? build.binary : '';
  let server: RtspServer;

  before(async () => {
    server = await startRtspServer(binary, { file: DEMO, auth: `${USER}:${PASSWORD}` });
  });

  after(async () => {
    await server?.signal('SIGKILL');
  });

  for (const transport of ['tcp', 'udp'] as const) {
    test(`delivers frames over ${transport.toUpperCase()} with the right credentials`, async () => {
      const source = openSource(server.url('/stream', `${USER}:${PASSWORD}`), {
        ...QUICK,
        rtspTransport: transport,
      });
      const run = watch(source);

      await drive(source, run, (r) => r.frames.length >= 15);

      assert.equal(run.error, undefined);
      assert.equal(source.live, true);
      assert.equal(run.frames.length, 15);
      assert.deepEqual([run.frames[0].width, run.frames[0].height], [640, 360]);
      assertIncreasing(run.frames);
      assert.deepEqual(
        run.states.map((s) => s.state),
        ['connecting', 'playing', 'ended'],
      );
      assert.ok(!source.displayName.includes(PASSWORD));
      assertNoSecret(run, PASSWORD);
    });
  }

  test('keeps only the newest frame for a slow consumer, counting the rest dropped', async () => {
    const source = openSource(server.url('/stream', `${USER}:${PASSWORD}`), QUICK);
    const run = watch(source);

    await drive(source, run, async (r) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return r.frames.length >= 4;
    });

    assert.equal(run.error, undefined);
    assert.ok(source.droppedFrames >= 6, `${source.droppedFrames} dropped`);
    const skipped = run.frames.at(-1)!.index - run.frames[0].index + 1 - run.frames.length;
    assert.ok(skipped >= 6, 'frame indices skip the dropped frames');
  });

  test('rejects wrong credentials with FXS_ERR_SOURCE_UNREACHABLE, hiding them', async () => {
    const wrong = 'wrong-pass-9';
    const source = openSource(server.url('/stream', `${USER}:${wrong}`), QUICK);
    const run = watch(source);

    await drive(source, run, () => false);

    assert.ok(isFxsError(run.error, ErrorCodes.SOURCE_UNREACHABLE), String(run.error));
    assert.match(run.error.message, /401/);
    assert.match(run.error.message, /viewer:\*\*\*@/);
    assert.ok(
      run.states.some((s) => s.state === 'reconnecting'),
      'it retried once',
    );
    assert.equal(run.states.at(-1)?.state, 'failed');
    assertNoSecret(run, wrong);
  });

  test('rejects missing credentials with FXS_ERR_SOURCE_UNREACHABLE', async () => {
    const source = openSource(server.url('/stream'), QUICK);
    const run = watch(source);

    await drive(source, run, () => false);

    assert.ok(isFxsError(run.error, ErrorCodes.SOURCE_UNREACHABLE), String(run.error));
    assert.match(run.error.message, /401/);
  });

  test('reports a wrong path as FXS_ERR_SOURCE_UNREACHABLE (404)', async () => {
    const source = openSource(server.url('/no-such-stream', `${USER}:${PASSWORD}`), {
      ...QUICK,
      reconnect: { connectAttempts: 1 },
    });
    const run = watch(source);

    await drive(source, run, () => false);

    assert.ok(isFxsError(run.error, ErrorCodes.SOURCE_UNREACHABLE), String(run.error));
    assert.match(run.error.message, /404/);
    assertNoSecret(run, PASSWORD);
  });
});

describe('an RTSP source whose server fails', { skip }, () => {
  const binary = 'binary' in build ? build.binary : '';
  const servers: RtspServer[] = [];

  after(async () => {
    for (const s of servers) {
      await s.signal('SIGCONT');
      await s.signal('SIGKILL');
    }
  });

  test('reports a refused connection as FXS_ERR_SOURCE_UNREACHABLE', async () => {
    const gone = await startRtspServer(binary, { file: DEMO });
    await gone.signal('SIGKILL');
    const source = openSource(gone.url(), QUICK);
    const run = watch(source);

    await drive(source, run, () => false);

    assert.ok(isFxsError(run.error, ErrorCodes.SOURCE_UNREACHABLE), String(run.error));
    assert.match(run.error.message, /refused/);
  });

  test('reconnects when the server is killed and restarted on the same port', async () => {
    const first = await startRtspServer(binary, { file: DEMO });
    servers.push(first);
    const source = openSource(first.url(), QUICK);
    const run = watch(source);
    let killedAt = -1;

    await drive(source, run, async (r) => {
      if (r.frames.length === 10) {
        killedAt = r.frames.length;
        await first.signal('SIGKILL');
        await new Promise((resolve) => setTimeout(resolve, 300));
        servers.push(await startRtspServer(binary, { file: DEMO, port: first.port }));
      }
      return killedAt > 0 && r.frames.length >= killedAt + 10;
    });

    assert.equal(run.error, undefined);
    assert.equal(run.frames.length, 20);
    assertIncreasing(run.frames);
    const states = run.states.map((s) => s.state);
    assert.ok(states.includes('reconnecting'), states.join(' '));
    assert.equal(states.filter((s) => s === 'playing').length, 2, states.join(' '));
    const gapMs = run.frames[10].timestampMs - run.frames[9].timestampMs;
    assert.ok(gapMs >= 300, `the outage shows as a ${gapMs} ms gap in timestamps`);
  });

  test('restarts a stalled stream by watchdog, then fails with FXS_ERR_SOURCE_LOST', async () => {
    const server = await startRtspServer(binary, { file: DEMO });
    servers.push(server);
    const source = openSource(server.url(), {
      stallTimeoutMs: 800,
      connectTimeoutMs: 3000,
      reconnect: { initialDelayMs: 100, maxAttempts: 1 },
    });
    const run = watch(source);

    await drive(source, run, async (r) => {
      if (r.frames.length === 5) await server.signal('SIGSTOP');
      return false;
    });

    assert.ok(isFxsError(run.error, ErrorCodes.SOURCE_LOST), String(run.error));
    assert.match(run.error.message, /no first frame within 3000 ms/);
    const retry = run.states.find((s) => s.state === 'reconnecting');
    assert.match(retry?.detail ?? '', /no frame for 800 ms/);
    assert.ok(run.frames.length >= 5);
  });
});
