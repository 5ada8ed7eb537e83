import { open } from 'node:fs/promises';

import { ErrorCodes, FxsError } from '../../common/errors.js';
import { DTYPE_BYTES, FLOAT_DTYPES, toFloat32, type TorchDtype } from './to-float32.js';
import { PickleError, PyGlobal, unpickle } from './unpickler.js';
import { ZipArchive, type ZipEntry } from './zip-archive.js';

/** One tensor of a checkpoint's state dict: where its elements live, not the elements. */
export interface CheckpointTensor {
  /** State-dict key, without any `module.` prefix. */
  key: string;
  dtype: TorchDtype;
  shape: number[];
  stride: number[];
  /** Offset into the storage, in elements. */
  offset: number;
  /** Zip entry name of the storage, e.g. `model/data/12`. */
  storage: string;
}

/** Storage classes torch.save names in its persistent ids, and their element types. */
const STORAGE_DTYPES: Record<string, TorchDtype> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** Dict entries that hold the model in the checkpoints we know, most specific first. */
const STATE_DICT_KEYS = ['state_dict_backbone', 'state_dict', 'model'];

const MODULE_PREFIX = 'module.';

interface StorageRef {
  dtype: TorchDtype;
  entry: string;
}

/**
 * A PyTorch checkpoint (torch.save zip format, PyTorch 1.6 and later) opened for reading
 * its state dict. The pickle is read when opened; tensor data is read on demand.
 */
export class TorchCheckpoint {
  private constructor(
    readonly path: string,
    /** State-dict tensors by key, in the checkpoint's order. */
    readonly tensors: ReadonlyMap<string, CheckpointTensor>,
    private readonly archive: ZipArchive,
  ) {}

  /**
   * Opens a checkpoint and reads its state dict: the `state_dict_backbone` entry of the
   * saved dict (the published FaceXFormer layout), else `state_dict` or `model`, else the
   * saved dict itself when it holds tensors. A `module.` prefix on every key (a model saved
   * from DataParallel) is removed.
   *
   * @throws FxsError FXS_ERR_CHECKPOINT_UNREADABLE when the file cannot be read as one
   */
  static async open(path: string): Promise<TorchCheckpoint> {
    await rejectLegacyFormat(path);
    const archive = await ZipArchive.open(path);
    try {
      const tensors = await readStateDict(archive);
      return new TorchCheckpoint(path, tensors, archive);
    } catch (err) {
      await archive.close();
      throw err;
    }
  }

  /**
   * Reads a floating tensor's elements as float32 (float16, bfloat16 and float64 convert).
   *
   * @throws FxsError FXS_ERR_CHECKPOINT_UNREADABLE when its storage is missing or short,
   *   or the tensor is not contiguous
   */
  async readFloat32(tensor: CheckpointTensor): Promise<Float32Array> {
    if (!FLOAT_DTYPES.has(tensor.dtype)) {
      throw new TypeError(`tensor '${tensor.key}' is ${tensor.dtype}, not a floating type`);
    }
    if (!isContiguous(tensor.shape, tensor.stride)) {
      throw unreadable(
        this.path,
        `tensor '${tensor.key}' is not contiguous (stride ${fmt(tensor.stride)}); ` +
          're-save the state dict with every tensor made .contiguous()',
      );
    }

    const entry = this.entry(tensor.storage);
    const size = DTYPE_BYTES[tensor.dtype];
    const count = elementCount(tensor.shape);
    const start = tensor.offset * size;
    if (start + count * size > entry.size) {
      throw unreadable(this.path, `storage of tensor '${tensor.key}' is shorter than the tensor`);
    }
    return toFloat32(await this.archive.read(entry, start, count * size), tensor.dtype);
  }

  /** Closes the file. */
  async close(): Promise<void> {
    await this.archive.close();
  }

  private entry(name: string): ZipEntry {
    const entry = this.archive.entries.get(name);
    if (!entry) throw unreadable(this.path, `storage '${name}' is missing from the archive`);
    return entry;
  }
}

/** Number of elements of a shape (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

async function readStateDict(archive: ZipArchive): Promise<Map<string, CheckpointTensor>> {
  const pickle = findPickle(archive);
  const prefix = pickle.name.slice(0, -'data.pkl'.length);
  await checkByteOrder(archive, prefix);

  let root: unknown;
  try {
    root = unpickle(await archive.read(pickle), {
      persistentLoad: (pid) => storageRef(pid, prefix),
      constructors: CONSTRUCTORS,
    });
  } catch (err) {
    if (err instanceof FxsError) throw err;
    const why = err instanceof PickleError ? err.message : String(err);
    throw unreadable(archive.path, `its pickle cannot be read (${why})`, err);
  }

  return collectTensors(pickStateDict(root, archive.path));
}

function findPickle(archive: ZipArchive): ZipEntry {
  const pickles = [...archive.entries.values()].filter(
    (e) => e.name === 'data.pkl' || e.name.endsWith('/data.pkl'),
  );
  pickles.sort((a, b) => a.name.length - b.name.length);
  if (pickles.length === 0) {
    throw unreadable(
      archive.path,
      'the zip archive holds no data.pkl, so torch.save did not write it',
    );
  }
  return pickles[0];
}

async function checkByteOrder(archive: ZipArchive, prefix: string): Promise<void> {
  // Written by PyTorch 2.1 and later; older files are little-endian.
  const entry = archive.entries.get(`${prefix}byteorder`);
  if (!entry) return;
  const order = (await archive.read(entry)).toString('ascii').trim();
  if (order !== 'little') {
    throw unreadable(archive.path, `its tensors are stored ${order}-endian; re-save on x86 or ARM`);
  }
}

/** persistent id ('storage', <storage class>, key, location, numel) -> storage reference. */
function storageRef(pid: unknown, prefix: string): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || !(pid[1] instanceof PyGlobal)) {
    throw new PickleError(`unknown persistent id ${JSON.stringify(String(pid))}`);
  }

  const dtype = STORAGE_DTYPES[pid[1].name];
  if (!dtype) throw new PickleError(`storage type ${pid[1].qualified} is not supported`);
  return { dtype, entry: `${prefix}data/${String(pid[2])}` };
}

/** Tensors as rebuilt by torch._utils._rebuild_tensor_v2, before they get their key. */
class RebuiltTensor {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

const rebuildTensor = (args: unknown[]): RebuiltTensor => {
  const [storage, offset, shape, stride] = args;
  if (!isStorageRef(storage) || !isIntArray(shape) || !isIntArray(stride)) {
    throw new PickleError('_rebuild_tensor_v2 with arguments of unexpected types');
  }
  return new RebuiltTensor(storage, Number(offset), shape, stride);
};

/** The callables a torch.save pickle of a state dict uses; everything else stays inert. */
const CONSTRUCTORS: Record<string, (args: unknown[]) => unknown> = {
  'collections.OrderedDict': (args) => new Map(Array.isArray(args[0]) ? args[0] : []),
  'torch._utils._rebuild_tensor_v2': rebuildTensor,
  'torch._utils._rebuild_tensor': rebuildTensor,
  // nn.Parameter objects (state_dict(keep_vars=True)): their data is the first argument.
  'torch._utils._rebuild_parameter': (args) => args[0],
  'torch._utils._rebuild_parameter_with_state': (args) => args[0],
  // Tensor subclasses in PyTorch 2: (rebuild function, type, its arguments, state).
  'torch._tensor._rebuild_from_type_v2': (args) => {
    const [fn, , inner] = args;
    const make = fn instanceof PyGlobal ? CONSTRUCTORS[fn.qualified] : undefined;
    return make && Array.isArray(inner) ? make(inner) : undefined;
  },
};

function pickStateDict(root: unknown, path: string): Map<unknown, unknown> {
  if (!(root instanceof Map)) {
    throw mismatch(path, 'it does not hold a dict of tensors; save the model.state_dict()');
  }
  for (const key of STATE_DICT_KEYS) {
    const value = root.get(key);
    if (value instanceof Map) return value;
  }
  if ([...root.values()].some((v) => v instanceof RebuiltTensor)) return root;

  const keys = [...root.keys()].slice(0, 5).map(String).join(', ');
  throw mismatch(path, `it holds no state dict (top-level keys: ${keys || 'none'})`);
}

function collectTensors(state: Map<unknown, unknown>): Map<string, CheckpointTensor> {
  const entries = [...state.entries()].filter(([, v]) => v instanceof RebuiltTensor);
  const prefixed =
    entries.length > 0 && entries.every(([k]) => String(k).startsWith(MODULE_PREFIX));

  const tensors = new Map<string, CheckpointTensor>();
  for (const [rawKey, value] of entries) {
    const t = value as RebuiltTensor;
    const key = prefixed ? String(rawKey).slice(MODULE_PREFIX.length) : String(rawKey);
    tensors.set(key, {
      key,
      dtype: t.storage.dtype,
      shape: t.shape,
      stride: t.stride,
      offset: t.offset,
      storage: t.storage.entry,
    });
  }
  return tensors;
}

async function rejectLegacyFormat(path: string): Promise<void> {
  // torch.save before 1.6 (or with _use_new_zipfile_serialization=False) writes a bare
  // pickle stream, which starts with the pickle PROTO opcode instead of a zip header.
  const file = await open(path, 'r').catch(() => undefined);
  if (!file) return; // ZipArchive.open reports the missing file
  try {
    const head = Buffer.alloc(2);
    await file.read(head, 0, 2, 0);
    if (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) {
      throw unreadable(
        path,
        'it is in the legacy (pre-1.6) torch.save format; load it in Python and torch.save ' +
          'it again with PyTorch 1.6 or later',
      );
    }
  } finally {
    await file.close();
  }
}

function isContiguous(shape: number[], stride: number[]): boolean {
  if (shape.length !== stride.length) return false;
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

function isStorageRef(value: unknown): value is StorageRef {
  return typeof value === 'object' && value !== null && 'dtype' in value && 'entry' in value;
}

function isIntArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => Number.isInteger(v));
}

function fmt(values: number[]): string {
  return `[${values.join(',')}]`;
}

function unreadable(path: string, why: string, cause?: unknown): FxsError {
  return new FxsError(
    ErrorCodes.CHECKPOINT_UNREADABLE,
    `cannot read checkpoint '${path}': ${why}`,
    {
      cause,
    },
  );
}

function mismatch(path: string, why: string): FxsError {
  return new FxsError(
    ErrorCodes.CHECKPOINT_MISMATCH,
    `checkpoint '${path}' is not a FaceXFormer checkpoint: ${why}`,
  );
}
