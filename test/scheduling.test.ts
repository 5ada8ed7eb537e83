import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCodes, isFxsError } from '../src/common/errors.js';
import { TASKS, type TaskName } from '../src/model/contract.js';
import {
  DEFAULT_TASK_INTERVALS,
  TaskScheduler,
  type TaskSchedulerOptions,
} from '../src/pipeline/task-scheduler.js';

const ALL = [...TASKS];

/** Runs frames [from, to] for one confirmed track, completing each plan at once. */
function runFrames(scheduler: TaskScheduler, from: number, to: number, enabled = ALL) {
  const ran = new Map<TaskName, number[]>();
  for (let f = from; f <= to; f++) {
    const tasks = scheduler.plan([{ id: 1, state: 'confirmed' }], f, enabled).get(1) ?? [];
    for (const task of tasks) ran.set(task, [...(ran.get(task) ?? []), f]);
    scheduler.done(1, tasks, f);
  }
  return ran;
}

describe('TaskScheduler', () => {
  test('runs every enabled task on a new track', () => {
    const plan = new TaskScheduler().plan([{ id: 7, state: 'confirmed' }], 100, ALL);
    assert.deepEqual(plan.get(7), ALL);
  });

  test('runs age, gender and race every 15 frames, attributes every 10, pose every frame', () => {
    const ran = runFrames(new TaskScheduler(), 0, 45);
    assert.deepEqual(ran.get('age'), [0, 15, 30, 45]);
    assert.deepEqual(ran.get('gender'), [0, 15, 30, 45]);
    assert.deepEqual(ran.get('race'), [0, 15, 30, 45]);
    assert.deepEqual(ran.get('attributes'), [0, 10, 20, 30, 40]);
    assert.equal(ran.get('landmarks')!.length, 46);
    assert.equal(ran.get('headPose')!.length, 46);
  });

  test('plans nothing for a track when no task is due', () => {
    const scheduler = new TaskScheduler();
    scheduler.plan([{ id: 1 }], 0, ['age']);
    scheduler.done(1, ['age'], 0);
    assert.equal(scheduler.plan([{ id: 1 }], 1, ['age']).has(1), false);
  });

  test('runs every task again when a tentative track is confirmed', () => {
    const scheduler = new TaskScheduler();
    const first = scheduler.plan([{ id: 3, state: 'tentative' }], 10, ALL).get(3)!;
    scheduler.done(3, first, 10);

    assert.deepEqual(scheduler.plan([{ id: 3, state: 'confirmed' }], 11, ALL).get(3), ALL);
  });

  test('does not plan a track that is lost in this frame', () => {
    const scheduler = new TaskScheduler();
    const plan = scheduler.plan([{ id: 1, state: 'lost' }, { id: 2 }], 0, ALL);
    assert.deepEqual([...plan.keys()], [2]);
    assert.equal(scheduler.size, 1);
  });

  test('plans only the enabled tasks, and runs a task at once when it is enabled later', () => {
    const scheduler = new TaskScheduler();
    const ran = runFrames(scheduler, 0, 4, ['landmarks', 'age']);
    assert.deepEqual([...ran.keys()], ['landmarks', 'age']);

    const plan = scheduler.plan([{ id: 1 }], 5, ['landmarks', 'age', 'race']);
    assert.deepEqual(plan.get(1), ['landmarks', 'race']);
  });

  test('does not plan an in-flight task again before its interval passes', () => {
    const scheduler = new TaskScheduler();
    scheduler.plan([{ id: 1 }], 0, ['age']);
    // Inference of frame 0 is still running while frames 1..14 are planned.
    for (let f = 1; f < 15; f++) assert.equal(scheduler.plan([{ id: 1 }], f, ['age']).size, 0);
    scheduler.done(1, ['age'], 0);
    assert.deepEqual(scheduler.plan([{ id: 1 }], 15, ['age']).get(1), ['age']);
  });

  test('plans a cancelled task again on the next frame', () => {
    const scheduler = new TaskScheduler();
    scheduler.plan([{ id: 1 }], 0, ['age', 'landmarks']);
    scheduler.cancel(1, ['age']);
    assert.deepEqual(scheduler.plan([{ id: 1 }], 1, ['age', 'landmarks']).get(1), [
      'landmarks',
      'age',
    ]);
  });

  test('honours configured intervals and keeps the defaults for the rest', () => {
    const scheduler = new TaskScheduler({ intervals: { age: 5, landmarks: 2 } });
    const ran = runFrames(scheduler, 0, 10);
    assert.deepEqual(ran.get('age'), [0, 5, 10]);
    assert.deepEqual(ran.get('landmarks'), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(ran.get('gender'), [0]);
    assert.equal(scheduler.intervalOf('race'), DEFAULT_TASK_INTERVALS.race);
  });

  test('takes a frame index that goes back as a restart and runs every task', () => {
    const scheduler = new TaskScheduler();
    runFrames(scheduler, 0, 20);
    const plan = scheduler.plan([{ id: 1 }], 3, ALL);
    assert.deepEqual(plan.get(1), ALL);
    scheduler.done(1, ALL, 3);
    // A late result from before the restart does not hold the tasks back afterwards.
    scheduler.done(1, ['age'], 20);
    assert.deepEqual(runFrames(scheduler, 4, 18).get('age'), [18]);
  });

  test('forgets ended tracks, and an id seen again afterwards gets every task', () => {
    const scheduler = new TaskScheduler();
    runFrames(scheduler, 0, 5);
    assert.equal(scheduler.size, 1);

    scheduler.forget([1, 99]);
    assert.equal(scheduler.size, 0);
    assert.deepEqual(scheduler.plan([{ id: 1 }], 6, ALL).get(1), ALL);
  });

  test('remembers at most maxTracks tracks, dropping the one planned longest ago', () => {
    const scheduler = new TaskScheduler({ maxTracks: 3 });
    for (let f = 0; f < 100; f++) scheduler.plan([{ id: f }], f, ['age']);
    assert.equal(scheduler.size, 3);
    assert.equal(scheduler.plan([{ id: 99 }], 100, ['age']).size, 0, 'id 99 is remembered');
    assert.equal(scheduler.plan([{ id: 0 }], 100, ['age']).size, 1, 'id 0 was dropped');
  });

  const badIntervals: Array<[string, TaskSchedulerOptions['intervals']]> = [
    ['zero', { age: 0 }],
    ['negative', { gender: -3 }],
    ['fractional', { race: 1.5 }],
    ['not a number', { landmarks: NaN }],
    ['infinite', { attributes: Infinity }],
  ];
  for (const [name, intervals] of badIntervals) {
    test(`rejects a ${name} interval with FXS_ERR_CONFIG_INVALID`, () => {
      assert.throws(
        () => new TaskScheduler({ intervals }),
        (err) => isFxsError(err, ErrorCodes.CONFIG_INVALID),
      );
    });
  }

  test('rejects an interval for an unknown task with FXS_ERR_UNKNOWN_TASK', () => {
    const intervals = { emotion: 5 } as unknown as TaskSchedulerOptions['intervals'];
    assert.throws(
      () => new TaskScheduler({ intervals }),
      (err) => isFxsError(err, ErrorCodes.UNKNOWN_TASK),
    );
  });

  test('rejects a maxTracks of 0 with FXS_ERR_CONFIG_INVALID', () => {
    assert.throws(
      () => new TaskScheduler({ maxTracks: 0 }),
      (err) => isFxsError(err, ErrorCodes.CONFIG_INVALID),
    );
  });
});
