/**
 * Starts test/rtsp/rtsp-server.c for tests: compiled with gcc and pkg-config on first use
 * into a cache folder under the OS temp dir, keyed by the source's hash.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'rtsp-server.c');

/** A running server. */
export interface RtspServer {
  port: number;
  /** `rtsp://[user:pass@]127.0.0.1:<port><mount>`. */
  url(mount?: string, userPass?: string): string;
  /** Sends a signal; for SIGKILL/SIGTERM, resolves once the process is gone. */
  signal(signal: NodeJS.Signals): Promise<void>;
  process: ChildProcess;
}

export interface RtspServerOptions {
  file: string;
  /** 0 picks a free port. Default 0. */
  port?: number;
  /** Default '/stream'. */
  mount?: string;
  /** `user:pass` to require basic auth. */
  auth?: string;
}

/**
 * Builds the server binary if needed. Returns its path, or the reason it cannot be built
 * (no gcc, no pkg-config, or libgstrtspserver-1.0-dev not installed).
 */
export function buildRtspServer(): { binary: string } | { missing: string } {
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const dir = path.join(tmpdir(), 'facexstream-test-cache');
  const binary = path.join(dir, `rtsp-server-${hash}`);
  if (existsSync(binary)) return { binary };

  const flags = spawnSync('pkg-config', ['--cflags', '--libs', 'gstreamer-rtsp-server-1.0']);
  if (flags.status !== 0) {
    return {
      missing:
        'pkg-config gstreamer-rtsp-server-1.0 failed: apt-get install libgstrtspserver-1.0-dev',
    };
  }

  mkdirSync(dir, { recursive: true });
  const partial = `${binary}.${process.pid}`;
  const args = ['-O2', '-o', partial, SOURCE, ...flags.stdout.toString().trim().split(/\s+/)];
  const gcc = spawnSync('gcc', args);
  if (gcc.status !== 0) {
    return { missing: `gcc could not build rtsp-server.c: ${gcc.stderr?.toString() ?? gcc.error}` };
  }
  renameSync(partial, binary);
  return { binary };
}

/** Starts a server and waits until it listens. */
export async function startRtspServer(
  binary: string,
  options: RtspServerOptions,
): Promise<RtspServer> {
  const args = ['--file', options.file, '--port', String(options.port ?? 0)];
  const mount = options.mount ?? '/stream';
  args.push('--mount', mount);
  if (options.auth) args.push('--auth', options.auth);

  // stdin stays an open pipe: the server exits when it closes, so it cannot outlive the tests.
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail('no PORT line within 20 s'), 20_000);
    const lines = createInterface({ input: child.stdout! });
    function fail(why: string): void {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`rtsp-server ${why}: ${stderr.trim()}`));
    }
    lines.once('line', (line) => {
      clearTimeout(timer);
      const match = /^PORT (\d+)$/.exec(line);
      if (match) resolve(Number(match[1]));
      else fail(`printed '${line}'`);
    });
    child.once('exit', (code) => fail(`exited with ${code}`));
  });

  return {
    port,
    process: child,
    url: (path = mount, userPass?: string) =>
      `rtsp://${userPass ? `${userPass}@` : ''}127.0.0.1:${port}${path}`,
    signal: async (signal) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      if (signal === 'SIGKILL' || signal === 'SIGTERM') await exited;
    },
  };
}
