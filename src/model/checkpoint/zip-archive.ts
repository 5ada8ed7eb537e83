import { open, type FileHandle } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';

import { ErrorCodes, FxsError } from '../../common/errors.js';

/** One file of a zip archive, as its central directory describes it. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's local header in the archive, bytes. */
  headerOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const EOCD64_LOCATOR_SIGNATURE = 0x07064b50;
const EOCD64_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const ZIP64_EXTRA = 0x0001;

/**
 * A zip archive read in place: the central directory when opened, each entry on demand.
 * Enough of the format for PyTorch checkpoints (stored entries, zip64 records), plus
 * deflated entries so that a re-zipped checkpoint still reads.
 */
export class ZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>;

  private constructor(
    readonly path: string,
    readonly size: number,
    private readonly file: FileHandle,
    entries: Map<string, ZipEntry>,
  ) {
    this.entries = entries;
  }

  /**
   * Opens `path` and reads its central directory.
   *
   * @throws FxsError FXS_ERR_CHECKPOINT_UNREADABLE when the file is missing, not a zip
   *   archive or cut short
   */
  static async open(path: string): Promise<ZipArchive> {
    const file = await open(path, 'r').catch((err: unknown) => {
      throw unreadable(path, describeOpenError(err), err);
    });

    try {
      const { size } = await file.stat();
      const entries = await readCentralDirectory(file, size, path);
      return new ZipArchive(path, size, file, entries);
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  /**
   * Reads `length` bytes of an entry's content from `offset` (stored entries read only
   * that range; deflated ones are inflated whole first).
   */
  async read(entry: ZipEntry, offset = 0, length = entry.size - offset): Promise<Buffer> {
    if (offset < 0 || length < 0 || offset + length > entry.size) {
      throw new RangeError(`range ${offset}+${length} is outside entry '${entry.name}'`);
    }

    const start = await this.dataStart(entry);
    if (entry.method === 0) return this.readAt(start + offset, length, entry.name);

    const packed = await this.readAt(start, entry.compressedSize, entry.name);
    let plain: Buffer;
    try {
      plain = inflateRawSync(packed);
    } catch (err) {
      throw unreadable(this.path, `entry '${entry.name}' does not inflate`, err);
    }
    return plain.subarray(offset, offset + length);
  }

  /** Closes the file. */
  async close(): Promise<void> {
    await this.file.close();
  }

  private async dataStart(entry: ZipEntry): Promise<number> {
    const header = await this.readAt(entry.headerOffset, 30, entry.name);
    if (header.readUInt32LE(0) !== LOCAL_SIGNATURE) {
      throw unreadable(this.path, `entry '${entry.name}' has no local header`);
    }
    if (entry.method !== 0 && entry.method !== 8) {
      throw unreadable(this.path, `entry '${entry.name}' uses zip method ${entry.method}`);
    }
    return entry.headerOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  }

  private async readAt(position: number, length: number, what: string): Promise<Buffer> {
    if (position + length > this.size) {
      throw unreadable(this.path, `entry '${what}' runs past the end of the file (truncated?)`);
    }
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await this.file.read(buffer, 0, length, position);
    if (bytesRead !== length) throw unreadable(this.path, `short read in entry '${what}'`);
    return buffer;
  }
}

async function readCentralDirectory(
  file: FileHandle,
  size: number,
  path: string,
): Promise<Map<string, ZipEntry>> {
  const tailLength = Math.min(size, EOCD_SIZE + MAX_COMMENT + 20);
  const tail = Buffer.alloc(tailLength);
  await file.read(tail, 0, tailLength, size - tailLength);

  const eocd = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0 || tailLength - eocd < EOCD_SIZE) {
    const head = Buffer.alloc(4);
    await file.read(head, 0, 4, 0);
    const zipStart = size >= 4 && head.readUInt32LE(0) === LOCAL_SIGNATURE;
    throw unreadable(
      path,
      zipStart ? 'the zip archive is cut short (incomplete copy?)' : 'not a zip archive',
    );
  }

  let count = tail.readUInt16LE(eocd + 10);
  let dirSize = tail.readUInt32LE(eocd + 12);
  let dirOffset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    ({ count, dirSize, dirOffset } = await readZip64End(file, tail, eocd, size, path));
  }
  if (tail.readUInt32LE(eocd) !== EOCD_SIGNATURE || dirOffset + dirSize > size) {
    throw unreadable(path, 'the zip directory lies past the end of the file (truncated?)');
  }

  const directory = Buffer.alloc(dirSize);
  await file.read(directory, 0, dirSize, dirOffset);
  return parseCentralDirectory(directory, count, path);
}

async function readZip64End(
  file: FileHandle,
  tail: Buffer,
  eocd: number,
  size: number,
  path: string,
): Promise<{ count: number; dirSize: number; dirOffset: number }> {
  const locator = eocd - 20;
  if (locator < 0 || tail.readUInt32LE(locator) !== EOCD64_LOCATOR_SIGNATURE) {
    throw unreadable(path, 'zip64 archive without a zip64 locator');
  }

  const recordOffset = Number(tail.readBigUInt64LE(locator + 8));
  if (recordOffset + 56 > size) throw unreadable(path, 'zip64 record past the end of the file');
  const record = Buffer.alloc(56);
  await file.read(record, 0, 56, recordOffset);
  if (record.readUInt32LE(0) !== EOCD64_SIGNATURE) throw unreadable(path, 'bad zip64 record');

  return {
    count: Number(record.readBigUInt64LE(32)),
    dirSize: Number(record.readBigUInt64LE(40)),
    dirOffset: Number(record.readBigUInt64LE(48)),
  };
}

function parseCentralDirectory(dir: Buffer, count: number, path: string): Map<string, ZipEntry> {
  const entries = new Map<string, ZipEntry>();
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (pos + 46 > dir.length || dir.readUInt32LE(pos) !== CENTRAL_SIGNATURE) {
      throw unreadable(path, 'the zip directory is damaged');
    }

    const nameLength = dir.readUInt16LE(pos + 28);
    const extraLength = dir.readUInt16LE(pos + 30);
    const commentLength = dir.readUInt16LE(pos + 32);
    const name = dir.toString('utf8', pos + 46, pos + 46 + nameLength);
    const extra = dir.subarray(pos + 46 + nameLength, pos + 46 + nameLength + extraLength);
    const entry: ZipEntry = {
      name,
      method: dir.readUInt16LE(pos + 10),
      compressedSize: dir.readUInt32LE(pos + 20),
      size: dir.readUInt32LE(pos + 24),
      headerOffset: dir.readUInt32LE(pos + 42),
    };
    applyZip64Extra(entry, extra);
    entries.set(name, entry);
    pos += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Replaces the 0xffffffff placeholders of a large entry by its zip64 extra-field values. */
function applyZip64Extra(entry: ZipEntry, extra: Buffer): void {
  let pos = 0;
  while (pos + 4 <= extra.length) {
    const id = extra.readUInt16LE(pos);
    const length = extra.readUInt16LE(pos + 2);
    if (id === ZIP64_EXTRA) {
      let field = pos + 4;
      for (const key of ['size', 'compressedSize', 'headerOffset'] as const) {
        if (entry[key] === 0xffffffff && field + 8 <= pos + 4 + length) {
          entry[key] = Number(extra.readBigUInt64LE(field));
          field += 8;
        }
      }
    }
    pos += 4 + length;
  }
}

function describeOpenError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'it is a directory';
  return `cannot open it (${code ?? String(err)})`;
}

function unreadable(path: string, why: string, cause?: unknown): FxsError {
  return new FxsError(
    ErrorCodes.CHECKPOINT_UNREADABLE,
    `cannot read checkpoint '${path}': ${why}; pass a PyTorch checkpoint saved by torch.save`,
    { cause },
  );
}
