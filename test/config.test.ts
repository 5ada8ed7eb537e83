/**
 * The YAML configuration file: a full example loads, and each kind of mistake is refused
 * with CONFIG_INVALID naming the file, the line and the key.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes, isFxsError } from '../src/common/errors.js';
import { loadConfig } from '../src/stream/config.js';

describe('loadConfig', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fxs-config-'));
  });

  after(() => rm(dir, { recursive: true, force: true }));

  async function write(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  it('loads every section, expanding ${VAR} and resolving relative files', async () => {
    process.env.FXS_TEST_CAMERA_PASSWORD = 'pa55';
    const path = await write(
      'full.yaml',
      [
        'server:',
        '  host: 0.0.0.0',
        '  port: 9000',
        '  token: long-random-token',
        '  previewFps: 4',
        '  allowedOrigins: [https://nvr.example]',
        'model:',
        '  path: models/custom.onnx',
        '  device: cuda',
        '  threads: 4',
        '  maxBatch: 8',
        'cameras:',
        '  - name: Lobby',
        '    url: rtsp://admin:${FXS_TEST_CAMERA_PASSWORD}@10.0.0.5/stream1',
        '    detector: full',
        '    tasks: [landmarks, headPose, age]',
        '    intervals: { age: 10 }',
        '    rtspTransport: udp',
        '    fps: 10',
        '  - url: clips/door.mp4',
        '    loop: true',
      ].join('\n'),
    );

    const config = await loadConfig(path);
    assert.deepEqual(config.server, {
      host: '0.0.0.0',
      port: 9000,
      token: 'long-random-token',
      previewFps: 4,
      allowedOrigins: ['https://nvr.example'],
    });
    assert.deepEqual(config.model, {
      path: join(dir, 'models/custom.onnx'),
      device: 'cuda',
      threads: 4,
      maxBatch: 8,
    });
    assert.equal(config.cameras[0].url, 'rtsp://admin:pa55@10.0.0.5/stream1');
    assert.deepEqual(config.cameras[0].intervals, { age: 10 });
    assert.equal(config.cameras[1].url, join(dir, 'clips/door.mp4'));
  });

  it('accepts an empty file and keeps the model names default and official', async () => {
    assert.deepEqual((await loadConfig(await write('empty.yaml', ''))).cameras, []);
    const named = await loadConfig(await write('official.yaml', 'model:\n  path: official\n'));
    assert.equal(named.model.path, 'official');
  });

  const mistakes: Array<[string, string, RegExp]> = [
    [
      'a camera without url',
      'cameras:\n  - name: a\n    url: a.mp4\n  - name: b\n    fps: 5\n',
      /:4: cameras\[1\]\.url: required$/,
    ],
    [
      'a misspelt key',
      'cameras:\n  - url: a.mp4\n    detecter: full\n',
      /:3: cameras\[0\]: unknown key "detecter"$/,
    ],
    [
      'an unknown task',
      'cameras:\n  - url: a.mp4\n    tasks: [age, nose]\n',
      /:3: cameras\[0\]\.tasks\[1\]: expected one of/,
    ],
    ['a port that is text', 'server:\n  port: eighty\n', /:2: server\.port: expected number/],
    ['a port out of range', 'server:\n  port: 70000\n', /:2: server\.port: /],
    ['an unknown section', 'servers:\n  port: 80\n', /:1: \(root\): unknown key "servers"$/],
    [
      'an origin that is not a URL',
      'server:\n  allowedOrigins: [nvr]\n',
      /:2: server\.allowedOrigins\[0\]: /,
    ],
    [
      'a zero interval',
      'cameras:\n  - url: a.mp4\n    intervals:\n      age: 0\n',
      /:4: cameras\[0\]\.intervals\.age: /,
    ],
    [
      'two cameras with one name',
      'cameras:\n  - {name: a, url: a.mp4}\n  - {name: a, url: b.mp4}\n',
      /:3: cameras\[1\]\.name: /,
    ],
    [
      'an unset variable',
      'server:\n  token: ${FXS_TEST_UNSET_VARIABLE}\n',
      /:2: server\.token: environment variable FXS_TEST_UNSET_VARIABLE is not set$/,
    ],
    ['broken YAML', 'cameras: [\n  - url\n', /:\d+: YAML syntax: /],
    ['duplicate keys', 'server:\n  port: 1\n  port: 2\n', /:\d+: YAML syntax: /],
  ];
  for (const [name, text, message] of mistakes) {
    it(`refuses ${name}, naming the line and key`, async () => {
      const path = await write('bad.yaml', text);
      await assert.rejects(loadConfig(path), (err) => {
        assert.ok(isFxsError(err, ErrorCodes.CONFIG_INVALID), String(err));
        assert.ok(err.message.startsWith(`${path}:`), err.message);
        assert.match(err.message, message);
        return true;
      });
    });
  }

  it('refuses a missing file, saying what to pass', async () => {
    await assert.rejects(loadConfig(join(dir, 'nope.yaml')), (err) => {
      assert.ok(isFxsError(err, ErrorCodes.CONFIG_INVALID));
      assert.match(err.message, /no such file/);
      return true;
    });
  });
});
