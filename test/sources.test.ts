import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  symlinkSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { ErrorCodes, isFxsError, type ErrorCode } from '../src/common/errors.js';
import { maskUrl } from '../src/common/mask-url.js';
import { findFfmpeg } from '../src/pipeline/ffmpeg.js';
import { openSource, type FrameSource, type SourceOptions } from '../src/pipeline/open-source.js';
import { parseSourceSpec } from '../src/pipeline/source-spec.js';
import type { Frame } from '../src/pipeline/types.js';

const DEMO = path.resolve('samples/demo.mp4');
let tmp: string;

before(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'fxs-sources-'));
});

after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Reads up to `limit` frames and the states the source went through. */
async function collect(
  input: string,
  options: SourceOptions = {},
  limit = Infinity,
): Promise<{ frames: Frame[]; states: string[]; source: FrameSource }> {
  const source = openSource(input, options);
  const states: string[] = [];
  source.on('state', (state: string) => states.push(state));
  const frames: Frame[] = [];
  for await (const frame of source.frames()) {
    frames.push(frame);
    if (frames.length >= limit) break;
  }
  return { frames, states, source };
}

/** Consumes a source and returns the error code `frames()` threw, plus the frames before. */
async function failure(input: string, options: SourceOptions = {}) {
  const frames: Frame[] = [];
  try {
    for await (const frame of openSource(input, options).frames()) frames.push(frame);
  } catch (err) {
    assert.ok(isFxsError(err), `expected an FxsError, got ${String(err)}`);
    return { code: err.code as ErrorCode, message: err.message, frames };
  }
  assert.fail(`'${input}' decoded ${frames.length} frames without an error`);
}

function ffmpegMake(...args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
}

function ffprobeFrameCount(file: string): number {
  const out = execFileSync('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-count_frames',
    '-show_entries',
    'stream=nb_read_frames',
    '-of',
    'csv=p=0',
    file,
  ]);
  return Number(out.toString().trim());
}

/** Process ids of ffmpeg processes this test process started and that still run. */
function childFfmpegs(): string[] {
  const found = spawnSync('pgrep', ['-P', String(process.pid), '-x', 'ffmpeg']);
  return found.stdout.toString().split('\n').filter(Boolean);
}

function assertIncreasing(frames: Frame[]): void {
  for (let i = 1; i < frames.length; i++) {
    assert.ok(
      frames[i].timestampMs > frames[i - 1].timestampMs,
      `frame ${i} at ${frames[i].timestampMs} ms follows ${frames[i - 1].timestampMs} ms`,
    );
  }
}

/** Mean RGB of a square of pixels whose top-left corner is (x, y). */
function meanRgb(frame: Frame, x: number, y: number, size = 8): number[] {
  const sum = [0, 0, 0];
  for (let dy = 0; dy < size; dy++) {
    for (let dx = 0; dx < size; dx++) {
      const at = ((y + dy) * frame.width + (x + dx)) * 3;
      for (let c = 0; c < 3; c++) sum[c] += frame.data[at + c];
    }
  }
  return sum.map((s) => s / (size * size));
}

describe('a video file source', () => {
  test('delivers every frame of the demo clip, as ffprobe counts them, in time order', async () => {
    const { frames, states, source } = await collect(DEMO);

    assert.equal(frames.length, ffprobeFrameCount(DEMO));
    assert.deepEqual(states, ['connecting', 'playing', 'ended']);
    assert.equal(source.live, false);
    assert.equal(source.id, 'demo');
    assert.equal(source.displayName, 'demo.mp4');
    assertIncreasing(frames);
    assert.equal(frames[0].timestampMs, 0);
    assert.equal(frames[1].timestampMs, 50, 'the clip runs at 20 fps');
    frames.forEach((frame, i) => {
      assert.equal(frame.index, i);
      assert.equal(frame.sourceId, 'demo');
      assert.equal(frame.width, 640);
      assert.equal(frame.height, 360);
      assert.equal(frame.data.length, 640 * 360 * 3);
    });
  });

  test('caps the frame rate by skipping frames, keeping their own timestamps', async () => {
    const { frames } = await collect(DEMO, { fps: 5 });

    assert.equal(frames.length, 60, '12 s at 5 fps');
    assertIncreasing(frames);
    for (let i = 1; i < frames.length; i++) {
      const gap = frames[i].timestampMs - frames[i - 1].timestampMs;
      assert.ok(gap >= 150 && gap <= 250, `gap of ${gap} ms between frames ${i - 1} and ${i}`);
      assert.equal(frames[i].timestampMs % 50, 0, 'timestamps stay on the 20 fps grid');
    }
  });

  test('scales to a requested width, keeping the aspect ratio', async () => {
    const { frames } = await collect(DEMO, { width: 320 }, 3);

    assert.deepEqual([frames[0].width, frames[0].height], [320, 180]);
    assert.equal(frames[0].data.length, 320 * 180 * 3);
  });

  test('fits inside a requested box, keeping the aspect ratio', async () => {
    const { frames } = await collect(DEMO, { width: 200, height: 200 }, 1);

    assert.equal(frames[0].width, 200);
    assert.ok(Math.abs(frames[0].height - 112.5) <= 1, `height ${frames[0].height}`);
    assert.equal(frames[0].data.length, frames[0].width * frames[0].height * 3);
  });

  test('turns a file with rotation metadata upright, swapping width and height', async () => {
    // A red 320x180 picture with a blue square in its top-left corner, tagged as rotated.
    // ffmpeg 5.1 writes the rotation tag only when copying a stream, hence two steps.
    const plain = path.join(tmp, 'plain.mp4');
    const rotated = path.join(tmp, 'rotated.mp4');
    ffmpegMake(
      '-f',
      'lavfi',
      '-i',
      'color=c=red:s=320x180:d=1:r=10,drawbox=w=40:h=40:c=blue:t=fill',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      plain,
    );
    ffmpegMake('-i', plain, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', rotated);

    const { frames } = await collect(rotated);

    assert.equal(frames.length, 10);
    assert.deepEqual([frames[0].width, frames[0].height], [180, 320]);
    // ffprobe reads this tag as 90 degrees counter-clockwise: the square lands bottom left.
    const isBlue = ([r, , b]: number[]): boolean => b > 200 && r < 60;
    assert.ok(isBlue(meanRgb(frames[0], 4, 320 - 36)), 'blue square bottom left');
    for (const [x, y] of [
      [4, 4],
      [140, 4],
      [140, 280],
    ]) {
      assert.ok(!isBlue(meanRgb(frames[0], x, y)), `no blue at ${x},${y}`);
    }
  });

  test('plays a file again and again in loop mode, timestamps still increasing', async () => {
    const { frames } = await collect(DEMO, { loop: true, width: 160 }, 260);

    assert.equal(frames.length, 260);
    assertIncreasing(frames);
    assert.ok(frames[259].timestampMs > 12_000, 'the second lap continues the timeline');
  });

  test('keeps every frame for a slow consumer', async () => {
    const source = openSource(DEMO, { width: 160, bufferFrames: 2 });
    const indices: number[] = [];
    for await (const frame of source.frames()) {
      indices.push(frame.index);
      if (indices.length <= 5) await new Promise((r) => setTimeout(r, 30));
      if (indices.length === 30) break;
    }

    assert.deepEqual(
      indices,
      Array.from({ length: 30 }, (_, i) => i),
    );
    assert.equal(source.droppedFrames, 0);
  });

  test('stop() ends frames() without an error and reports the end', async () => {
    const source = openSource(DEMO);
    const states: Array<[string, unknown]> = [];
    source.on('state', (state: string, detail: unknown) => states.push([state, detail]));
    let count = 0;
    for await (const _frame of source.frames()) {
      if (++count === 3) await source.stop();
    }

    assert.ok(count <= 4, `${count} frames after stop()`);
    assert.deepEqual(states.at(-1), ['ended', 'stopped']);
    assert.deepEqual(childFfmpegs(), [], 'no ffmpeg left running');
  });

  test('refuses a second call to frames()', () => {
    const source = openSource(DEMO);
    source.frames();
    assert.throws(() => source.frames(), TypeError);
    return source.stop();
  });
});

describe('an HTTP source', () => {
  let server: Server;
  let base: string;

  before(async () => {
    const root = path.join(tmp, 'www');
    mkdirSync(root);
    ffmpegMake(
      '-i',
      DEMO,
      '-t',
      '4',
      '-c',
      'copy',
      '-f',
      'hls',
      '-hls_time',
      '1',
      '-hls_playlist_type',
      'vod',
      path.join(root, 'index.m3u8'),
    );
    server = createServer((req, res) => {
      const file = path.join(root, path.basename(req.url ?? ''));
      const served = req.url === '/demo.mp4' ? DEMO : file;
      if (!existsSync(served)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200);
      createReadStream(served).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test('reads an mp4 from a web server, every frame when told it is not live', async () => {
    const { frames, source } = await collect(`${base}/demo.mp4`, { live: false });

    assert.equal(source.live, false);
    assert.equal(frames.length, 240);
    assertIncreasing(frames);
  });

  test('reads an HLS playlist and its segments', async () => {
    const { frames, source } = await collect(`${base}/index.m3u8`, { live: false });

    assert.equal(source.id, '127.0.0.1-index');
    assert.equal(frames.length, 80, '4 s at 20 fps');
    assertIncreasing(frames);
  });

  test('reports a missing page as FXS_ERR_SOURCE_UNREACHABLE', async () => {
    const live = await failure(`${base}/nothing.mp4`, { reconnect: { connectAttempts: 1 } });
    const notLive = await failure(`${base}/nothing.mp4`, { live: false });

    for (const { code, message } of [live, notLive]) {
      assert.equal(code, ErrorCodes.SOURCE_UNREACHABLE);
      assert.match(message, /404/);
    }
  });
});

describe('an image source', () => {
  let folder: string;

  before(async () => {
    folder = path.join(tmp, 'stills');
    mkdirSync(folder);
    const colours: Record<string, [number, number, number]> = {
      'img1.png': [255, 0, 0],
      'img2.png': [0, 255, 0],
      'img10.png': [0, 0, 255],
    };
    for (const [name, [r, g, b]] of Object.entries(colours)) {
      await sharp({
        create: { width: 32, height: 24, channels: 4, background: { r, g, b, alpha: 1 } },
      })
        .png()
        .toFile(path.join(folder, name));
    }
    writeFileSync(path.join(folder, 'notes.md'), 'not an image');
  });

  test('reads a folder in natural order, one RGB frame an image', async () => {
    const { frames, states, source } = await collect(folder);

    assert.equal(source.live, false);
    assert.deepEqual(states, ['connecting', 'playing', 'ended']);
    assert.deepEqual(
      frames.map((f) => [...f.data.subarray(0, 3)]),
      [
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
      ],
    );
    assert.deepEqual(
      frames.map((f) => f.timestampMs),
      [0, 40, 80],
    );
    assert.deepEqual(
      frames.map((f) => f.index),
      [0, 1, 2],
    );
    assert.ok(
      frames.every((f) => f.width === 32 && f.height === 24 && f.data.length === 32 * 24 * 3),
    );
  });

  test('follows symbolic links in a folder of picked images', async () => {
    const picks = path.join(tmp, 'picks');
    mkdirSync(picks);
    symlinkSync(path.join(folder, 'img2.png'), path.join(picks, 'a.png'));

    const { frames } = await collect(picks);

    assert.deepEqual(
      frames.map((f) => [...f.data.subarray(0, 3)]),
      [[0, 255, 0]],
    );
  });

  test('reads a .txt list in its own order, paths relative to the list', async () => {
    const list = path.join(tmp, 'order.txt');
    writeFileSync(list, '# favourites\nstills/img10.png\n\nstills/img1.png\n');

    const { frames } = await collect(list);

    assert.deepEqual(
      frames.map((f) => [...f.data.subarray(0, 3)]),
      [
        [0, 0, 255],
        [255, 0, 0],
      ],
    );
  });

  test('turns a photo upright by its EXIF orientation', async () => {
    const photo = path.join(tmp, 'sideways.jpg');
    await sharp({ create: { width: 40, height: 20, channels: 3, background: '#808080' } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toFile(photo);

    const { frames } = await collect(photo);

    assert.equal(frames.length, 1);
    assert.deepEqual([frames[0].width, frames[0].height], [20, 40]);
  });

  test('reads one sample portrait, resized to fit', async () => {
    const { frames } = await collect('samples/astronaut.jpg', { width: 100 });

    assert.equal(frames.length, 1);
    assert.deepEqual([frames[0].width, frames[0].height], [100, 100]);
    assert.equal(frames[0].data.length, 100 * 100 * 3);
  });

  test('widens a greyscale image to RGB', async () => {
    const grey = path.join(tmp, 'grey.png');
    await sharp(Buffer.alloc(16 * 8, 77), { raw: { width: 16, height: 8, channels: 1 } })
      .png()
      .toFile(grey);

    const { frames } = await collect(grey);

    assert.equal(frames[0].data.length, 16 * 8 * 3);
    assert.deepEqual([...frames[0].data.subarray(0, 3)], [77, 77, 77]);
  });

  test('fails on an empty folder with FXS_ERR_INPUT_UNREADABLE', async () => {
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty);
    assert.equal((await failure(empty)).code, ErrorCodes.INPUT_UNREADABLE);
  });

  test('fails on a list naming a missing image with FXS_ERR_INPUT_NOT_FOUND', async () => {
    const list = path.join(tmp, 'missing.txt');
    writeFileSync(list, 'stills/img1.png\nstills/nope.png\n');

    const { code, frames } = await failure(list);

    assert.equal(code, ErrorCodes.INPUT_NOT_FOUND);
    assert.equal(frames.length, 1, 'the images before the missing one still arrive');
  });

  test('fails on a damaged image with FXS_ERR_INPUT_UNREADABLE', async () => {
    const broken = path.join(tmp, 'broken.jpg');
    writeFileSync(broken, readFileSync('samples/astronaut.jpg').subarray(0, 600));
    assert.equal((await failure(broken)).code, ErrorCodes.INPUT_UNREADABLE);
  });
});

describe('bad inputs', () => {
  test('a missing file throws FXS_ERR_INPUT_NOT_FOUND at once', () => {
    assert.throws(() => openSource(path.join(tmp, 'nope.mp4')), {
      code: ErrorCodes.INPUT_NOT_FOUND,
    });
  });

  test('a missing webcam throws FXS_ERR_INPUT_NOT_FOUND at once', () => {
    assert.throws(() => openSource('webcam:97'), { code: ErrorCodes.INPUT_NOT_FOUND });
  });

  test('a text file named like a video fails with FXS_ERR_INPUT_UNREADABLE', async () => {
    const text = path.join(tmp, 'notes.mp4');
    writeFileSync(text, 'these are meeting notes, not a video\n');
    assert.equal((await failure(text)).code, ErrorCodes.INPUT_UNREADABLE);
  });

  test('an empty file fails with FXS_ERR_INPUT_UNREADABLE', async () => {
    const empty = path.join(tmp, 'empty.mkv');
    writeFileSync(empty, '');
    assert.equal((await failure(empty)).code, ErrorCodes.INPUT_UNREADABLE);
  });

  test('an audio-only file fails with FXS_ERR_INPUT_UNREADABLE', async () => {
    const tone = path.join(tmp, 'tone.m4a');
    ffmpegMake('-f', 'lavfi', '-i', 'sine=duration=1', tone);

    const { code, message } = await failure(tone);

    assert.equal(code, ErrorCodes.INPUT_UNREADABLE);
    assert.match(message, /audio only/);
  });

  test('a cut-short mp4 delivers its frames, then fails with FXS_ERR_INPUT_TRUNCATED', async () => {
    const cut = path.join(tmp, 'cut.mp4');
    const bytes = readFileSync(DEMO);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.4)));

    const { code, frames } = await failure(cut);

    assert.equal(code, ErrorCodes.INPUT_TRUNCATED);
    assert.ok(frames.length > 20 && frames.length < 200, `${frames.length} frames`);
    assertIncreasing(frames);
  });

  test('an unknown scheme throws FXS_ERR_INPUT_UNSUPPORTED at once', () => {
    assert.throws(() => openSource('ftp://example.com/cam.mp4'), {
      code: ErrorCodes.INPUT_UNSUPPORTED,
    });
  });

  test('an empty input throws FXS_ERR_INPUT_UNSUPPORTED at once', () => {
    assert.throws(() => openSource('  '), { code: ErrorCodes.INPUT_UNSUPPORTED });
  });

  test('a URL without a host throws FXS_ERR_INPUT_UNSUPPORTED at once', () => {
    assert.throws(() => openSource('rtsp:///stream'), { code: ErrorCodes.INPUT_UNSUPPORTED });
  });

  test('out-of-range options throw RangeError', () => {
    assert.throws(() => openSource(DEMO, { fps: 0 }), RangeError);
    assert.throws(() => openSource(DEMO, { width: 10.5 }), RangeError);
    assert.throws(() => openSource(DEMO, { id: 'has space' }), RangeError);
    assert.throws(() => openSource(DEMO, { reconnect: { maxAttempts: -1 } }), RangeError);
  });

  test('an FFMPEG_PATH that is not a program gives FXS_ERR_FFMPEG_MISSING', async () => {
    await assert.rejects(findFfmpeg({ FFMPEG_PATH: path.join(tmp, 'no-ffmpeg'), PATH: '' }), {
      code: ErrorCodes.FFMPEG_MISSING,
    });
  });

  test('no ffmpeg anywhere gives FXS_ERR_FFMPEG_MISSING', async () => {
    await assert.rejects(findFfmpeg({ PATH: tmp }), { code: ErrorCodes.FFMPEG_MISSING });
  });
});

describe('parseSourceSpec', () => {
  test('names files, folders, lists and single images', () => {
    const file = parseSourceSpec(DEMO);
    assert.deepEqual([file.kind, file.id, file.live, file.target], ['file', 'demo', false, DEMO]);

    const folder = parseSourceSpec('samples');
    assert.deepEqual(
      [folder.kind, folder.imageList, folder.id],
      ['images', 'directory', 'samples'],
    );

    const still = parseSourceSpec('samples/grace_hopper.jpg');
    assert.deepEqual([still.kind, still.imageList, still.id], ['images', 'single', 'grace_hopper']);
  });

  test('names network sources by host and last path segment, never by credentials', () => {
    const rtsp = parseSourceSpec('rtsp://admin:pa55@10.0.0.5:554/Streaming/Channels/101');
    assert.deepEqual([rtsp.kind, rtsp.live, rtsp.id], ['rtsp', true, '10.0.0.5-101']);
    assert.equal(rtsp.displayName, 'rtsp://admin:***@10.0.0.5:554/Streaming/Channels/101');
    assert.equal(rtsp.target, 'rtsp://admin:pa55@10.0.0.5:554/Streaming/Channels/101');

    assert.equal(parseSourceSpec('rtsps://cam.local/live').kind, 'rtsp');
    assert.equal(parseSourceSpec('https://cdn.example/live/index.m3u8').kind, 'hls');
    assert.equal(parseSourceSpec('http://cam.local/mjpg/video.mjpg').kind, 'http');
  });

  test('understands webcam:N as a V4L2 device', () => {
    assert.throws(
      () => parseSourceSpec('webcam:42'),
      (err: unknown) => {
        return isFxsError(err, ErrorCodes.INPUT_NOT_FOUND) && err.message.includes('/dev/video42');
      },
    );
  });
});

describe('maskUrl', () => {
  test('masks the password and keeps the user', () => {
    assert.equal(maskUrl('rtsp://admin:hunter2@cam/live'), 'rtsp://admin:***@cam/live');
  });

  test('masks a user info without a password whole, as it is often a token', () => {
    assert.equal(maskUrl('https://ghp_abc123@host/x.m3u8'), 'https://***@host/x.m3u8');
  });

  test('masks a password holding @ and : characters', () => {
    assert.equal(maskUrl('rtsp://u:p@ss:w@rd@cam:554/a'), 'rtsp://u:***@cam:554/a');
  });

  test('masks secret query parameters and keeps the others', () => {
    assert.equal(
      maskUrl('http://cam/video.cgi?user=bob&password=x1&resolution=640x480&token=t'),
      'http://cam/video.cgi?user=bob&password=***&resolution=640x480&token=***',
    );
  });

  test('masks every URL inside a log line', () => {
    assert.equal(
      maskUrl('rtsp://a:b@h1/x: 401 Unauthorized; retry rtsp://c:d@h2/y'),
      'rtsp://a:***@h1/x: 401 Unauthorized; retry rtsp://c:***@h2/y',
    );
  });

  test('leaves text without credentials alone', () => {
    for (const text of ['rtsp://10.0.0.5:554/live', '/videos/a@b.mp4', 'mail bob@example.com']) {
      assert.equal(maskUrl(text), text);
    }
  });
});
