/**
 * The one structured logger of the outer service (CLI and server). Inner layers never log:
 * they report through errors and events, and the outer layer decides what to say.
 */
import { pino, type Logger } from 'pino';
import { Writable } from 'node:stream';

export type { Logger };

/** Options of createLogger. */
export interface LoggerOptions {
  /** Minimum level. Default 'info'. */
  level?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** 'pretty' prints one readable line a record; 'json' prints pino's JSON lines. Default 'pretty'. */
  format?: 'pretty' | 'json';
  /** Where lines go. Default process.stderr, so stdout stays free for results. */
  destination?: NodeJS.WritableStream;
}

/** Creates the service logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stderr;
  const level = options.level ?? 'info';
  if (options.format === 'json') return pino({ level }, destination);

  return pino({ level, base: undefined, timestamp: false }, prettyStream(destination));
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** A stream that turns pino's JSON records into `level: message key=value` lines. */
function prettyStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') out.write(formatRecord(line) + '\n');
      }
      done();
    },
  });
}

function formatRecord(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { level, msg, ...rest } = record;
  const name = LEVEL_NAMES[level as number] ?? String(level);
  const extras = Object.entries(rest)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  const prefix = name === 'info' ? '' : `${name}: `;
  return `${prefix}${String(msg ?? '')}${extras ? '  ' + extras : ''}`;
}
