#!/usr/bin/env node
/** The `facexstream` command line: analyze, run and model sub-commands. */
import { Command } from 'commander';
import { registerAnalyzeCommand } from './analyze-command.js';
import { registerModelCommands } from './model-command.js';
import { registerRunCommand } from './run-command.js';
import { packageInfo } from '../stream/package-info.js';
import { isFxsError } from '../common/errors.js';

const program = new Command();
program
  .name('facexstream')
  .description('Real-time face analysis of video streams with FaceXFormer and ONNX Runtime')
  .version(packageInfo().version)
  .showHelpAfterError();

registerAnalyzeCommand(program);
registerRunCommand(program);
registerModelCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`facexstream: ${describe(err)}\n`);
  process.exitCode = isFxsError(err) ? 2 : 1;
});

function describe(err: unknown): string {
  if (isFxsError(err)) return `${err.message} [${err.code}]`;
  if (err instanceof Error) return err.stack ?? err.message;
  return String(err);
}
