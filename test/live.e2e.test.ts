/**
 * `facexstream run samples/demo.mp4` as a new user runs it: the built CLI in a child
 * process (real ffmpeg, detector and embedded model), a real ws client and Debian's
 * chromium on the dashboard it serves. With FXS_SCREENSHOT=1 the screenshot goes to
 * docs/dashboard.png, the picture in the README.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { PROTOCOL_VERSION } from '../src/stream/protocol.js';
import { chromiumAvailable, launchChromium, CHROMIUM_PATH } from './helpers/chromium.js';
import { TestClient } from './helpers/ws-client.js';

const CLI = path.resolve('dist/src/cli/main.js');

describe('facexstream run on the demo clip', () => {
  let tmp: string;
  let child: ChildProcess;
  let stderr = '';
  let base: string;

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'fxs-live-'));
    child = spawn(
      process.execPath,
      [CLI, 'run', 'samples/demo.mp4', '--port', '0', '--cache-dir', path.join(tmp, 'cache')],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    base = await waitFor(/dashboard: (http:\/\/\S+\/)/, () => stderr, 20_000);
    await waitFor(/stream demo: /, () => stderr, 5000);
  });

  after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });

  test('greets a WebSocket client with the embedded model and its tasks', async () => {
    const client = await TestClient.open(`${base.replace('http', 'ws')}ws`);

    const hello = await client.next('hello');

    assert.equal(hello.protocol, PROTOCOL_VERSION);
    assert.equal(hello.model.name, 'facexstream-small');
    assert.equal(hello.model.device, 'cpu');
    assert.deepEqual([...hello.model.tasks].sort(), ['age', 'gender', 'headPose', 'landmarks', 'parsing', 'race']);
    assert.deepEqual(hello.streams.map((s) => s.id), ['demo']);
    await client.close();
  });

  test('streams the results of both faces while the clip plays', async () => {
    const client = await TestClient.open(`${base.replace('http', 'ws')}ws`);

    await client.request({ type: 'subscribe', previews: true }, 'subscribed');
    const results = await client.next('results', (m) => m.faces.length === 2, { timeoutMs: 15_000 });
    const preview = await client.next('frame', () => true, { timeoutMs: 5000 });

    assert.equal(results.stream, 'demo');
    assert.deepEqual([results.width, results.height], [640, 360]);
    for (const face of results.faces) {
      assert.equal(face.landmarks?.length, 68);
      assert.ok(face.age && face.gender && face.race && face.headPose && face.parsing);
      assert.equal(face.attributes, undefined);
    }
    assert.ok(Buffer.from(preview.jpeg, 'base64').subarray(0, 2).equals(Buffer.from([0xff, 0xd8])));
    await client.close();
  });

  test('reports the stream as playing on /healthz and counts its frames on /metrics', async () => {
    const health = (await (await fetch(`${base}healthz`)).json()) as { streams: Array<{ state: string }> };
    const metrics = await (await fetch(`${base}metrics`)).text();

    assert.equal(health.streams[0].state, 'playing');
    const frames = /fxs_frames_out_total\{stream="demo"\} (\d+)/.exec(metrics);
    assert.ok(frames && Number(frames[1]) > 0, 'frames out counted');
  });

  test(
    'shows the faces live in a browser with overlays and cards',
    { skip: chromiumAvailable() ? false : `no chromium at ${CHROMIUM_PATH}` },
    async () => {
      const browser: Browser = await launchChromium();
      try {
        const page: Page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
        const errors: string[] = [];
        page.on('pageerror', (err) => errors.push(err.message));
        await page.goto(base);

        await page.waitForSelector('.tile[data-stream="demo"][data-faces="2"]', { timeout: 20_000 });
        await page.waitForFunction(
          () => document.querySelector('.tile canvas')?.getAttribute('data-overlays')?.split(',').length === 4,
        );
        const cards = await page.$$eval('.tile[data-stream="demo"] .face', (nodes) =>
          nodes.map((n) => ({
            age: n.querySelector('.age')?.textContent ?? '',
            bars: n.querySelectorAll('.bar-row').length,
            chips: n.querySelectorAll('.chip').length,
            text: n.textContent ?? '',
          })),
        );
        assert.equal(cards.length, 2);
        for (const card of cards) {
          assert.match(card.age, /^\d+-\d+$|^70\+$/);
          assert.equal(card.bars, 3, 'one gender bar and two race bars');
          assert.equal(card.chips, 0, 'no attributes: the embedded model has none');
          assert.match(card.text, /yaw\s*-?\d+°/);
        }
        // Let the preview and overlays settle, and catch a moment with both faces apart.
        await page.waitForTimeout(1000);
        await page.waitForSelector('.tile[data-stream="demo"][data-faces="2"]', { timeout: 20_000 });
        const shot =
          process.env.FXS_SCREENSHOT === '1' ? path.resolve('docs/dashboard.png') : path.join(tmp, 'dashboard.png');
        await page.screenshot({ path: shot });
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
      }
    },
  );

  test('stops cleanly on Ctrl-C', async () => {
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));

    child.kill('SIGINT');

    assert.equal(await exited, 0);
    assert.match(stderr, /stopping/);
  });
});

/** Waits until the CLI's log matches `pattern`; returns the first group or the match. */
async function waitFor(pattern: RegExp, read: () => string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(read());
    if (match) return match[1] ?? match[0];
    if (Date.now() > deadline) throw new Error(`the CLI never printed ${pattern}:\n${read()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
