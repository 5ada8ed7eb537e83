/**
 * Builds the dashboard into dashboard/dist, which the server serves. Paths are relative
 * (`base: './'`), so the dashboard also works behind a proxy under a sub-path. During
 * `vite dashboard` development, API and WebSocket calls go to a server on port 8080.
 */
import { defineConfig } from 'vite';

const target = process.env.FXS_SERVER ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  server: {
    proxy: {
      '/ws': { target, ws: true },
      '/api': target,
      '/healthz': target,
    },
  },
});
