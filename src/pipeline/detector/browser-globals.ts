import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import vm from 'node:vm';

/** Lines the wasm runtime printed, kept for error messages (it would print to stderr). */
export interface WasmOutput {
  /** The last lines printed, oldest first (at most 20). */
  lines: string[];
}

/**
 * Makes this thread look enough like a browser worker for MediaPipe Tasks to load, and
 * returns where the wasm runtime's printed lines go. Call once per thread, before importing
 * `@mediapipe/tasks-vision`: the bundle looks for these globals when it loads its runtime.
 *
 * - `self`: the bundle keeps the runtime factory and its options on it.
 * - `WebGLRenderingContext`: emscripten tells WebGL1 from WebGL2 by `instanceof` on it.
 * - `importScripts`: the bundle loads the wasm loader script with it. That script is CommonJS
 *   inside a `"type": "module"` package, so it is evaluated here with its own `require`,
 *   `module` and `__dirname` and its export becomes `self.ModuleFactory`.
 * - `self.Module`: options for the runtime; its print hooks keep output off the console.
 */
export function installBrowserGlobals(): WasmOutput {
  const output: WasmOutput = { lines: [] };
  const keep = (text: string): void => {
    output.lines.push(text);
    if (output.lines.length > 20) output.lines.shift();
  };

  const scope = globalThis as Record<string, unknown>;
  scope.self = globalThis;
  scope.WebGLRenderingContext ??= class WebGLRenderingContext {};
  scope.importScripts = (path: string) => {
    scope.ModuleFactory = evaluateCommonJs(path);
  };
  scope.Module = { print: keep, printErr: keep };
  return output;
}

function evaluateCommonJs(path: string): unknown {
  const source = readFileSync(path, 'utf8');
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const run = vm.runInThisContext(wrapper, { filename: path }) as (...args: unknown[]) => void;

  const module = { exports: {} as unknown };
  run(module.exports, createRequire(path), module, path, dirname(path));
  return module.exports;
}
