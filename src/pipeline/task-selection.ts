/** Turns a user's task list into the tasks a model will run, or a clear error. */
import { ErrorCodes, FxsError } from '../common/errors.js';
import { TASKS, type TaskName } from '../model/contract.js';

/**
 * Checks requested task names against the known tasks and the model's tasks.
 *
 * @param requested task names from a flag, a config file or an API call; undefined or empty
 *   means every task the model supports.
 * @param modelTasks tasks the model was trained for (its metadata).
 * @param modelName shown in the error when a task is not supported.
 * @throws FxsError FXS_ERR_UNKNOWN_TASK for a name that is not a task,
 *   FXS_ERR_TASK_UNSUPPORTED for a task the model was not trained for.
 */
export function selectTasks(
  requested: readonly string[] | undefined,
  modelTasks: readonly TaskName[],
  modelName: string,
): TaskName[] {
  if (!requested || requested.length === 0) return TASKS.filter((t) => modelTasks.includes(t));

  for (const name of requested) {
    if (!(TASKS as readonly string[]).includes(name)) {
      throw new FxsError(
        ErrorCodes.UNKNOWN_TASK,
        `unknown task '${name}'; use one or more of ${TASKS.join(', ')}`,
      );
    }
  }
  const unsupported = requested.filter((t) => !modelTasks.includes(t as TaskName));
  if (unsupported.length > 0) {
    throw new FxsError(
      ErrorCodes.TASK_UNSUPPORTED,
      `model '${modelName}' was not trained for ${unsupported.join(', ')}; it supports ` +
        `${modelTasks.join(', ')} (run \`facexstream model pull\` for the published model)`,
    );
  }
  return TASKS.filter((t) => requested.includes(t));
}
