/**
 * The dashboard in a real browser: Debian's chromium loads the freshly built dashboard from
 * a real server fed by the replay engine, and the test checks what a person would see:
 * previews, overlays (down to the pixels), face cards, the token handling and the offline
 * state. With FXS_SCREENSHOT=1 the screenshot goes to docs/dashboard.png.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { build } from 'vite';
import { startServer, type RunningServer } from '../src/stream/server.js';
import { chromiumAvailable, launchChromium, CHROMIUM_PATH } from './helpers/chromium.js';
import { ReplayEngine } from './helpers/replay-engine.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const token = 'e2e-token-0123456789';

/** Track colours of ids 1 and 2 (dashboard/src/format.ts). */
const TRACK_RGB: Array<[number, number, number]> = [
  [0xf6, 0xad, 0x55],
  [0xb7, 0x94, 0xf4],
];

describe(
  'the dashboard',
  { skip: chromiumAvailable() ? false : `no chromium at ${CHROMIUM_PATH}` },
  () => {
    let outDir: string;
    let engine: ReplayEngine;
    let server: RunningServer;
    let browser: Browser;
    let page: Page;
    const pageErrors: string[] = [];

    before(async () => {
      outDir = await mkdtemp(join(tmpdir(), 'fxs-dashboard-build-'));
      await build({
        root: join(root, 'dashboard'),
        configFile: join(root, 'dashboard', 'vite.config.ts'),
        logLevel: 'warn',
        build: { outDir, emptyOutDir: true },
      });

      engine = new ReplayEngine({ fps: 8 });
      await engine.addStream({ url: 'replay://viewer:hunter2@lobby-cam/duo', name: 'Lobby' });
      await engine.addStream({ url: 'replay:solo', name: 'Entrance' });
      const parking = await engine.addStream({ url: 'replay:empty', name: 'Parking' });
      engine.setState(
        parking.id,
        'reconnecting',
        'rtsp://10.0.0.7/stream1: connection timed out; retrying',
      );
      server = await startServer({ engine, port: 0, token, dashboardDir: outDir });

      browser = await launchChromium();
      page = await browser.newPage({
        viewport: { width: 1440, height: 900 },
        deviceScaleFactor: 1,
      });
      page.on('pageerror', (err) => pageErrors.push(err.message));
      page.on('console', (message) => {
        if (message.type() === 'error') pageErrors.push(message.text());
      });
      await page.goto(server.dashboardUrl);
    });

    after(async () => {
      await browser?.close();
      await server?.close();
      engine?.close();
      if (outDir) await rm(outDir, { recursive: true, force: true });
    });

    it('connects, takes the token out of the address bar and names the model', async () => {
      await page.waitForSelector('#connection[data-state="live"]');
      assert.doesNotMatch(page.url(), /token/);
      assert.equal(await page.textContent('.model-name'), 'replay-fixture');
      const toggles = await page.$$eval('[data-overlay]', (inputs) =>
        inputs.map((i) => i.getAttribute('data-overlay')),
      );
      assert.deepEqual(toggles, ['boxes', 'landmarks', 'pose', 'parsing']);
    });

    it('shows every stream with its state and a masked URL', async () => {
      await page.waitForSelector('.tile[data-stream="parking"][data-state="reconnecting"]');
      const names = await page.$$eval('.tile h2', (nodes) => nodes.map((n) => n.textContent));
      assert.deepEqual(names, ['Lobby', 'Entrance', 'Parking']);
      const url = await page.textContent('.tile[data-stream="lobby"] .url');
      assert.equal(url, 'replay://viewer:***@lobby-cam/duo');
      assert.match(
        (await page.textContent('.tile[data-stream="parking"] .view-message')) ?? '',
        /timed out/,
      );
    });

    it('draws the preview with every overlay over the faces', async () => {
      const canvas = '.tile[data-stream="lobby"] canvas';
      await page.waitForSelector(`${canvas}[data-image]:not([data-image=""])`);
      await page.waitForFunction(
        (selector) =>
          document.querySelector(selector)?.getAttribute('data-overlays')?.split(',').length === 4,
        canvas,
      );
      const overlays = (await page.getAttribute(canvas, 'data-overlays'))!.split(',').sort();
      assert.deepEqual(overlays, ['boxes', 'landmarks', 'parsing', 'pose']);

      const counts = await trackPixels(page, canvas);
      assert.ok(counts[0] > 200 && counts[1] > 200, `track-coloured pixels: ${counts}`);
    });

    it('fills a card per face with age, gender, race, pose, visibility and attributes', async () => {
      await page.waitForSelector('.tile[data-stream="lobby"][data-faces="2"]');
      const cards = await page.$$eval('.tile[data-stream="lobby"] .face', (nodes) =>
        nodes.map((n) => ({
          track: n.getAttribute('data-track'),
          age: n.querySelector('.age')?.textContent,
          bars: n.querySelectorAll('.bar-row').length,
          chips: n.querySelectorAll('.chip').length,
          text: n.textContent ?? '',
        })),
      );
      assert.deepEqual(
        cards.map((c) => c.track),
        ['1', '2'],
      );
      for (const card of cards) {
        assert.match(card.age ?? '', /^\d+-\d+$|^70\+$/);
        assert.equal(card.bars, 3, 'one gender bar and two race bars');
        assert.ok(card.chips > 0);
        assert.match(card.text, /yaw\s*-?\d+°/);
        assert.match(card.text, /\d+\/29/);
      }
      const legend = await page.$$eval('.tile[data-stream="lobby"] .legend-item', (n) =>
        n.map((x) => x.textContent),
      );
      assert.ok(legend.includes('Skin') && legend.includes('Hair'), `legend: ${legend}`);
      await page.waitForSelector('.tile[data-stream="lobby"] .stat b');
      assert.match(
        (await page.textContent('.tile[data-stream="lobby"] .stats')) ?? '',
        /In\s*8\.0 fps/,
      );
    });

    it('looks right (screenshot)', async () => {
      await page.waitForSelector('.tile[data-stream="entrance"][data-faces="1"]');
      await page.waitForTimeout(500);
      const path =
        process.env.FXS_SCREENSHOT === '1'
          ? join(root, 'docs', 'dashboard.png')
          : join(outDir, 'dashboard.png');
      await page.screenshot({ path, fullPage: true });
      assert.deepEqual(
        pageErrors,
        [],
        'no script errors and no content-security-policy violations',
      );
    });

    it('stops drawing an overlay when it is switched off', async () => {
      const canvas = '.tile[data-stream="lobby"] canvas';
      for (const key of ['boxes', 'landmarks', 'pose', 'parsing'])
        await page.uncheck(`[data-overlay="${key}"]`);
      await page.waitForFunction(
        (selector) => document.querySelector(selector)?.getAttribute('data-overlays') === '',
        canvas,
      );

      const counts = await trackPixels(page, canvas);
      assert.ok(counts[0] < 20 && counts[1] < 20, `track-coloured pixels left: ${counts}`);
      await page.waitForFunction(
        () => document.querySelectorAll('.tile[data-stream="lobby"] .legend-item').length === 0,
      );

      for (const key of ['boxes', 'landmarks', 'pose', 'parsing'])
        await page.check(`[data-overlay="${key}"]`);
    });

    it('shows the offline state when the server goes and recovers when it is back', async () => {
      const port = server.port;
      await server.close();
      await page.waitForSelector('#connection[data-state="reconnecting"]');
      assert.equal(await page.isVisible('#banner'), true);
      assert.equal(await page.getAttribute('.tile[data-stream="lobby"]', 'class'), 'tile offline');

      server = await startServer({ engine, port, token, dashboardDir: outDir });
      await page.waitForSelector('#connection[data-state="live"]', { timeout: 15_000 });
      assert.equal(await page.isVisible('#banner'), false);
    });

    it('tells a visitor without the token how to get in', async () => {
      const stranger = await browser.newPage();
      await stranger.goto(server.url);
      await stranger.waitForSelector('#connection[data-state="unauthorized"]');
      assert.match((await stranger.textContent('#banner')) ?? '', /token/);
      await stranger.close();
    });
  },
);

/** Counts canvas pixels within a small distance of each of the two track colours. */
async function trackPixels(page: Page, selector: string): Promise<number[]> {
  return page.$eval(
    selector,
    (canvas, colors) => {
      const c = canvas as HTMLCanvasElement;
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const counts = colors.map(() => 0);
      for (let i = 0; i < data.length; i += 4) {
        colors.forEach(([r, g, b], k) => {
          if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 24)
            counts[k]++;
        });
      }
      return counts;
    },
    TRACK_RGB,
  );
}
