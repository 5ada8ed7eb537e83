/** Starts the model runner for a CLI command and says which model and device it uses. */
import type { Logger } from '../common/logger.js';
import { parseDeviceRequest } from '../model/device.js';
import { ModelRunner } from '../model/model-runner.js';
import { resolveModel } from '../model/resolve.js';

/** Model flags shared by `analyze` and `run`. */
export interface ModelFlags {
  /** 'default', 'official' or a path. */
  model?: string;
  device?: string;
  threads?: number;
  maxBatch?: number;
  cacheDir?: string;
}

/** Resolves the model, starts its runner, and logs the choice and any device warning. */
export async function startModel(flags: ModelFlags, logger: Logger): Promise<ModelRunner> {
  const device = parseDeviceRequest(flags.device ?? 'auto');
  const resolved = await resolveModel({ model: flags.model ?? 'default', cacheDir: flags.cacheDir });
  logger.info(resolved.reason);

  const runner = await ModelRunner.create({
    modelPath: resolved.path,
    device,
    threads: flags.threads,
    maxBatch: flags.maxBatch,
  });
  for (const warning of runner.warnings) logger.warn(warning);
  logger.info(
    `model ${runner.metadata.name} on ${runner.device} (${runner.start.deviceReason}); ` +
      `tasks: ${runner.metadata.tasks.join(', ')}`,
  );
  return runner;
}
