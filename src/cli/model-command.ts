/**
 * `facexstream model pull | import | info`: install the published model, turn a checkpoint
 * into an ONNX model, and describe a model file.
 */
import { stat } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';

import { ErrorCodes, FxsError } from '../common/errors.js';
import { defaultTemplatePath } from '../model/checkpoint/default-template.js';
import { importCheckpoint } from '../model/checkpoint-import.js';
import { int64ToNumber, readOnnxModel } from '../model/onnx-file.js';
import { pullOfficialModel, type PullProgress } from '../model/pull.js';
import { resolveModel } from '../model/resolve.js';

/** Adds the `model` command group to the program. */
export function registerModelCommands(program: Command): void {
  const model = program.command('model').description('install, import and inspect models');

  model
    .command('pull')
    .description('download the published FaceXFormer checkpoint and install it as --model official')
    .option('--cache-dir <dir>', 'cache folder (default $XDG_CACHE_HOME/facexstream)')
    .option(
      '--base-url <url>',
      'download host (default $FACEXSTREAM_HF_BASE or https://huggingface.co)',
    )
    .option('--sha256 <hex>', 'expected SHA-256 of the checkpoint')
    .option('--keep-checkpoint', 'keep the downloaded .pt after importing it')
    .action(async (flags: PullFlags) => pull(flags));

  model
    .command('import <checkpoint>')
    .description('turn a FaceXFormer checkpoint (.pt) into a facexstream ONNX model')
    .requiredOption('--out <model.onnx>', 'model file to write')
    .option('--template <template.onnx>', 'weight-free template (default: the Swin-B template)')
    .action(async (checkpoint: string, flags: { out: string; template?: string }) =>
      importCommand(checkpoint, flags),
    );

  model
    .command('info <model>')
    .description("describe a model: a .onnx path, 'default', 'official' or 'embedded'")
    .option('--cache-dir <dir>', 'cache folder holding the official model')
    .option('--json', 'print JSON instead of text')
    .action(async (spec: string, flags: { cacheDir?: string; json?: boolean }) =>
      info(spec, flags),
    );
}

interface PullFlags {
  cacheDir?: string;
  baseUrl?: string;
  sha256?: string;
  keepCheckpoint?: boolean;
}

async function pull(flags: PullFlags): Promise<void> {
  if (flags.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(flags.sha256)) {
    throw new FxsError(
      ErrorCodes.CONFIG_INVALID,
      `--sha256 '${flags.sha256}' is not 64 hex digits`,
    );
  }

  const view = new PullProgressView(process.stderr);
  try {
    const result = await pullOfficialModel({ ...flags, onProgress: (p) => view.update(p) });
    view.stop();
    const resumed = result.resumed ? ' (resumed)' : '';
    process.stdout.write(
      `official model installed: ${result.modelPath}\n` +
        `checkpoint sha256 ${result.sha256}, ` +
        `${formatMb(result.downloadedBytes)} downloaded${resumed}\n` +
        'use it with --model official (it is also the default now)\n',
    );
  } finally {
    view.stop();
  }
}

async function importCommand(
  checkpoint: string,
  flags: { out: string; template?: string },
): Promise<void> {
  const templatePath = flags.template ?? defaultTemplatePath();
  if (!templatePath) {
    throw new FxsError(
      ErrorCodes.MODEL_NOT_FOUND,
      'the Swin-B template models/templates/facexformer-swin-b.onnx is missing; pass --template',
    );
  }

  const result = await importCheckpoint({
    checkpointPath: checkpoint,
    templatePath,
    outPath: flags.out,
  });
  process.stdout.write(
    `wrote ${result.outPath}: ${result.tensors} tensors, ${result.metadata.name}\n`,
  );
}

async function info(spec: string, flags: { cacheDir?: string; json?: boolean }): Promise<void> {
  const resolved = await resolveModel({ model: spec, cacheDir: flags.cacheDir });
  const model = await readOnnxModel(resolved.path);
  const { size } = await stat(resolved.path);
  const m = resolved.metadata;
  const opsets = (model.opsetImport ?? []).map(
    (o) => `${o.domain || 'ai.onnx'}:${int64ToNumber(o.version ?? 0)}`,
  );
  const description = {
    path: resolved.path,
    name: m.name,
    tasks: m.tasks,
    inputSize: m.inputSize,
    parameters: m.parameters,
    fileBytes: size,
    opsets,
    nodes: model.graph?.node?.length ?? 0,
    initializers: model.graph?.initializer?.length ?? 0,
    producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(),
    labels: m.labels,
    provenance: m.provenance,
  };

  if (flags.json) {
    process.stdout.write(`${JSON.stringify(description, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    [
      `model       ${m.name} (${resolved.path})`,
      `tasks       ${m.tasks.join(', ')}`,
      `input       ${m.inputSize}x${m.inputSize} RGB, ` +
        `mean ${m.mean.join('/')}, std ${m.std.join('/')}`,
      `parameters  ${m.parameters.toLocaleString('en-US')}`,
      `file        ${formatMb(size)}, opset ${opsets.join(' ')}, ${description.nodes} nodes, ` +
        `${description.initializers} initializers`,
      `producer    ${description.producer || 'unknown'}`,
      `source      ${m.provenance.source}`,
      `license     ${m.provenance.license}`,
      ...(m.provenance.sha256 ? [`sha256      ${m.provenance.sha256}`] : []),
      ...(m.provenance.notes ? [`notes       ${m.provenance.notes}`] : []),
      ...labelLines(m.labels),
      '',
    ].join('\n'),
  );
}

function labelLines(labels: Record<string, string[]>): string[] {
  return Object.entries(labels).map(([task, names]) => `labels      ${task}: ${names.join(', ')}`);
}

function formatMb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** A byte bar while downloading on a terminal; a line every few seconds otherwise. */
class PullProgressView {
  private bar?: cliProgress.SingleBar;
  private lastLine = 0;
  private phase = '';

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(p: PullProgress): void {
    if (p.phase !== this.phase) {
      this.stop();
      this.phase = p.phase;
      if (p.phase === 'verify') this.out.write('verifying checksum\n');
    }
    if (p.phase === 'download') this.download(p.receivedBytes, p.totalBytes);
    if (p.phase === 'import' && p.stage === 'write' && p.done === 0)
      this.out.write('writing the ONNX model\n');
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }

  private download(received: number, total: number | undefined): void {
    if (this.out.isTTY) {
      if (!this.bar) {
        this.bar = new cliProgress.SingleBar(
          {
            stream: this.out,
            format: ' downloading |{bar}| {percentage}% | {mb} MB | ETA {eta_formatted}',
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        this.bar.start(total ?? received, received, { mb: (received / 1e6).toFixed(1) });
      }
      if (total !== undefined) this.bar.setTotal(total);
      this.bar.update(received, { mb: (received / 1e6).toFixed(1) });
      return;
    }

    const now = Date.now();
    if (now - this.lastLine < 5000) return;
    this.lastLine = now;
    const of = total ? ` of ${formatMb(total)}` : '';
    this.out.write(`downloading: ${formatMb(received)}${of}\n`);
  }
}
