/**
 * Execution device selection for ONNX Runtime.
 *
 * onnxruntime-node bundles only the CPU provider on Linux x64. The CUDA and TensorRT
 * providers are shared libraries its install script downloads on request; this project
 * skips that download (.npmrc) so installs work offline, and a GPU host runs
 * `npm run gpu:install` (the install script with ONNXRUNTIME_NODE_INSTALL=cuda12), which puts
 * libonnxruntime_providers_{shared,cuda,tensorrt}.so next to the binding. They still need the
 * CUDA 12 runtime, cuDNN 9 (and TensorRT 10 for tensorrt) on the library path; a missing one
 * shows up only when a session is created, which is why session.ts falls back to CPU there.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { ErrorCodes, FxsError } from '../common/errors.js';

/** What a user may ask for with `--device`. */
export const DEVICE_REQUESTS = ['auto', 'cpu', 'cuda', 'tensorrt'] as const;
export type DeviceRequest = (typeof DEVICE_REQUESTS)[number];

/** A device a session actually runs on. */
export type Device = 'cpu' | 'cuda' | 'tensorrt';

/** The devices to try in order, and why this order. */
export interface DevicePlan {
  /** Devices to try, best first; always ends with 'cpu'. */
  attempts: Device[];
  /** One line on the choice, e.g. "auto: CUDA provider installed". */
  reason: string;
  /** Warning to report when the plan already knows it cannot give what was asked. */
  warning?: string;
}

/** Command that installs the GPU providers, quoted in messages. */
export const GPU_INSTALL_HINT = 'run `npm run gpu:install` on an NVIDIA host with CUDA 12';

/**
 * Parses a `--device` value.
 *
 * @throws FxsError FXS_ERR_CONFIG_INVALID naming the value and the accepted ones
 */
export function parseDeviceRequest(value: string): DeviceRequest {
  if ((DEVICE_REQUESTS as readonly string[]).includes(value)) return value as DeviceRequest;

  throw new FxsError(
    ErrorCodes.CONFIG_INVALID,
    `unknown device '${value}'; use one of ${DEVICE_REQUESTS.join(', ')}`,
  );
}

/**
 * Plans which devices to try for a request, given which GPU providers are installed.
 * Pure: `installed` defaults to what is on disk now.
 */
export function planDevices(
  request: DeviceRequest,
  installed: ReadonlySet<Device> = installedProviders(),
): DevicePlan {
  if (request === 'cpu') return { attempts: ['cpu'], reason: 'cpu requested' };

  if (request === 'auto') {
    if (installed.has('cuda')) {
      return { attempts: ['cuda', 'cpu'], reason: 'auto: CUDA provider installed' };
    }
    return { attempts: ['cpu'], reason: `auto: no GPU provider installed (${GPU_INSTALL_HINT})` };
  }

  if (!installed.has(request)) {
    return {
      attempts: ['cpu'],
      reason: `${request} requested`,
      warning:
        `${request} is not available: its ONNX Runtime provider is not installed; ` +
        `running on cpu (${GPU_INSTALL_HINT})`,
    };
  }

  const attempts: Device[] = request === 'tensorrt' ? ['tensorrt', 'cuda', 'cpu'] : ['cuda', 'cpu'];
  return {
    attempts: attempts.filter((d) => d === 'cpu' || installed.has(d)),
    reason: `${request} requested`,
  };
}

/** GPU providers whose libraries sit next to onnxruntime-node's binding. */
export function installedProviders(): Set<Device> {
  const dir = providerDirectory();
  const found = new Set<Device>(['cpu']);
  if (!dir || !existsSync(join(dir, 'libonnxruntime_providers_shared.so'))) return found;

  if (existsSync(join(dir, 'libonnxruntime_providers_cuda.so'))) found.add('cuda');
  if (existsSync(join(dir, 'libonnxruntime_providers_tensorrt.so'))) found.add('tensorrt');
  return found;
}

/** Folder of onnxruntime-node's native binding for this platform, or undefined if absent. */
export function providerDirectory(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const packageJson = require.resolve('onnxruntime-node/package.json');
    return join(dirname(packageJson), 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return undefined;
  }
}
