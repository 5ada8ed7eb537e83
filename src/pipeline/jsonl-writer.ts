/**
 * Writes FrameRecords as JSON lines, each flushed as it is produced, so an interrupted run
 * keeps every completed frame.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { FrameRecord } from './record.js';

/** Appends one JSON line per record to a file, or to stdout for the path '-'. */
export class JsonlWriter {
  private readonly out: NodeJS.WritableStream;
  private readonly file: WriteStream | undefined;
  private count = 0;

  constructor(path: string) {
    if (path === '-') {
      this.out = process.stdout;
      return;
    }
    this.file = createWriteStream(path, { flags: 'w' });
    this.out = this.file;
  }

  /** Records written so far. */
  get written(): number {
    return this.count;
  }

  /** Writes one record; resolves when the stream accepts more (backpressure). */
  async write(record: FrameRecord): Promise<void> {
    this.count += 1;
    if (!this.out.write(JSON.stringify(record) + '\n')) await once(this.out, 'drain');
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    if (!this.file) return;
    this.file.end();
    await once(this.file, 'close');
  }
}
