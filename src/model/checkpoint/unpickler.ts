/**
 * A Python pickle reader for the subset torch.save writes (protocols 2 to 5). It executes
 * nothing: a GLOBAL becomes a `PyGlobal` name, and REDUCE calls only the constructors a
 * caller registers for a name; any other call yields an inert `PyObject`. Values map to
 * JavaScript as: str -> string, int -> number (bigint beyond 2^53), float -> number,
 * bool/None -> boolean/null, tuple and list -> array, dict -> Map.
 */

/** A module-level name a pickle refers to, e.g. torch._utils._rebuild_tensor_v2. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}

  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** The result of calling a global this reader does not construct; holds what it was given. */
export class PyObject {
  state: unknown = undefined;
  readonly items = new Map<unknown, unknown>();

  constructor(
    readonly type: PyGlobal,
    readonly args: unknown[],
  ) {}
}

/** What the caller supplies: constructors by qualified name and the persistent-id loader. */
export interface UnpickleHooks {
  /** Called by REDUCE for a global of this qualified name; the return value is pushed. */
  constructors?: Record<string, (args: unknown[]) => unknown>;
  /** Resolves a BINPERSID/PERSID reference (torch: ('storage', type, key, location, n)). */
  persistentLoad?: (pid: unknown) => unknown;
}

/** Raised for malformed or unsupported pickle data; the caller adds the file name. */
export class PickleError extends Error {
  override name = 'PickleError';
}

const MARK = Symbol('mark');

/** Reads one pickle from `data` and returns its value. */
export function unpickle(data: Uint8Array, hooks: UnpickleHooks = {}): unknown {
  return new Reader(Buffer.from(data.buffer, data.byteOffset, data.byteLength), hooks).run();
}

class Reader {
  private pos = 0;
  private stack: unknown[] = [];
  private readonly marks: number[] = [];
  readonly memo = new Map<number, unknown>();

  constructor(
    readonly data: Buffer,
    private readonly hooks: UnpickleHooks,
  ) {}

  run(): unknown {
    for (;;) {
      const op = this.byte();
      if (op === 0x2e) return this.pop(); // STOP
      this.step(op);
    }
  }

  // One opcode. Grouped by what they build; opcode values are from Python's pickletools.
  private step(op: number): void {
    switch (op) {
      case 0x80: // PROTO
        this.byte();
        return;
      case 0x95: // FRAME
        this.take(8);
        return;
      case 0x28: // MARK
        this.marks.push(this.stack.length);
        this.stack.push(MARK);
        return;
      case 0x30: // POP
        this.pop();
        return;
      case 0x31: // POP_MARK
        this.popMark();
        return;
      case 0x32: // DUP
        this.push(this.top());
        return;
      default:
        if (this.scalar(op) || this.container(op) || this.memoOp(op) || this.call(op)) return;
        throw new PickleError(`unsupported pickle opcode 0x${op.toString(16)} at ${this.pos - 1}`);
    }
  }

  /** Opcodes that push one value read from the stream. */
  private scalar(op: number): boolean {
    const read = PUSHERS.get(op);
    if (!read) return false;
    this.push(read(this));
    return true;
  }

  private container(op: number): boolean {
    const empty = EMPTY.get(op);
    if (empty) {
      this.push(empty());
      return true;
    }

    const arity = FIXED_TUPLE.get(op);
    if (arity !== undefined) {
      this.push(this.stack.splice(-arity));
      return true;
    }

    switch (op) {
      case 0x74: // TUPLE
      case 0x6c: // LIST
      case 0x91: // FROZENSET
        this.push(this.popMark());
        return true;
      case 0x61: // APPEND
        this.appendTo(this.pop());
        return true;
      case 0x65: // APPENDS
      case 0x90: // ADDITEMS
        this.appendTo(...this.popMark());
        return true;
      case 0x73: // SETITEM
        this.setItems(this.stack.splice(-2));
        return true;
      case 0x75: // SETITEMS
        this.setItems(this.popMark());
        return true;
      case 0x64: {
        // DICT
        const flat = this.popMark();
        this.push(new Map());
        this.setItems(flat);
        return true;
      }
      default:
        return false;
    }
  }

  private appendTo(...values: unknown[]): void {
    const target = this.top();
    if (!Array.isArray(target)) throw new PickleError(`APPEND to a non-list at ${this.pos - 1}`);
    target.push(...values);
  }

  /** Sets key/value pairs given flat ([k0, v0, k1, v1, ...]) on the dict on top. */
  private setItems(flat: unknown[]): void {
    const target = this.top();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      if (target instanceof Map) target.set(flat[i], flat[i + 1]);
      else if (target instanceof PyObject) target.items.set(flat[i], flat[i + 1]);
      else throw new PickleError(`SETITEM on a value that is not a dict at ${this.pos - 1}`);
    }
  }

  private memoOp(op: number): boolean {
    const index = MEMO_INDEX.get(op);
    if (!index) return false;
    if (op === 0x68 || op === 0x6a || op === 0x67) {
      this.push(this.recall(index(this))); // BINGET, LONG_BINGET, GET
    } else {
      this.memo.set(index(this), this.top()); // BINPUT, LONG_BINPUT, PUT, MEMOIZE
    }
    return true;
  }

  private call(op: number): boolean {
    switch (op) {
      case 0x63: {
        // GLOBAL
        const module = this.line();
        this.push(new PyGlobal(module, this.line()));
        return true;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = this.pop();
        const module = this.pop();
        this.push(new PyGlobal(String(module), String(name)));
        return true;
      }
      case 0x52: {
        // REDUCE
        const args = this.pop();
        const callable = this.pop();
        this.push(this.construct(callable, Array.isArray(args) ? args : [args]));
        return true;
      }
      case 0x81: // NEWOBJ
      case 0x92: {
        // NEWOBJ_EX
        if (op === 0x92) this.pop(); // keyword arguments: ignored
        const args = this.pop();
        const cls = this.pop();
        this.push(this.construct(cls, Array.isArray(args) ? args : [args]));
        return true;
      }
      case 0x62: {
        // BUILD
        const state = this.pop();
        const target = this.top();
        if (target instanceof PyObject) target.state = state;
        return true;
      }
      case 0x51: // BINPERSID
        this.push(this.persistent(this.pop()));
        return true;
      case 0x50: // PERSID
        this.push(this.persistent(this.line()));
        return true;
      default:
        return false;
    }
  }

  private construct(callable: unknown, args: unknown[]): unknown {
    if (!(callable instanceof PyGlobal)) {
      throw new PickleError(`REDUCE on a value that is not a global at ${this.pos - 1}`);
    }
    const make = this.hooks.constructors?.[callable.qualified];
    return make ? make(args) : new PyObject(callable, args);
  }

  private persistent(pid: unknown): unknown {
    if (!this.hooks.persistentLoad) throw new PickleError('persistent id without a loader');
    return this.hooks.persistentLoad(pid);
  }

  private recall(index: number): unknown {
    if (!this.memo.has(index)) throw new PickleError(`memo ${index} read before it was set`);
    return this.memo.get(index);
  }

  private push(value: unknown): void {
    this.stack.push(value);
  }

  private pop(): unknown {
    if (this.stack.length === 0 || this.top() === MARK) {
      throw new PickleError(`stack underflow at ${this.pos - 1}`);
    }
    return this.stack.pop();
  }

  private top(): unknown {
    return this.stack[this.stack.length - 1];
  }

  private popMark(): unknown[] {
    const at = this.marks.pop();
    if (at === undefined) throw new PickleError(`no MARK before ${this.pos - 1}`);
    const items = this.stack.splice(at);
    return items.slice(1);
  }

  byte(): number {
    if (this.pos >= this.data.length) throw new PickleError('pickle data ends early');
    return this.data[this.pos++];
  }

  advance(n: number): number {
    const at = this.pos;
    if (at + n > this.data.length) throw new PickleError('pickle data ends early');
    this.pos += n;
    return at;
  }

  take(n: number): Buffer {
    const at = this.advance(n);
    return this.data.subarray(at, at + n);
  }

  text(n: number): string {
    return this.take(n).toString('utf8');
  }

  u64(): number {
    return Number(this.data.readBigUInt64LE(this.advance(8)));
  }

  line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) throw new PickleError('pickle data ends early');
    const text = this.data.toString('latin1', this.pos, end);
    this.pos = end + 1;
    return text;
  }

  textInt(text: string): number | boolean | bigint {
    if (text === '00') return false;
    if (text === '01') return true;
    return narrow(BigInt(text));
  }

  /** Little-endian two's-complement integer of n bytes. */
  long(n: number): number | bigint {
    const bytes = this.take(n);
    let value = 0n;
    for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
    if (n > 0 && bytes[n - 1] & 0x80) value -= 1n << BigInt(8 * n);
    return narrow(value);
  }
}

type Read = (r: Reader) => unknown;

const u32 = (r: Reader): number => r.data.readUInt32LE(r.advance(4));

/** Value-pushing opcodes and how each reads its argument (values from pickletools). */
const PUSHERS = new Map<number, Read>([
  [0x4e, () => null], // NONE
  [0x88, () => true], // NEWTRUE
  [0x89, () => false], // NEWFALSE
  [0x4b, (r) => r.byte()], // BININT1
  [0x4d, (r) => r.data.readUInt16LE(r.advance(2))], // BININT2
  [0x4a, (r) => r.data.readInt32LE(r.advance(4))], // BININT
  [0x8a, (r) => r.long(r.byte())], // LONG1
  [0x8b, (r) => r.long(u32(r))], // LONG4
  [0x47, (r) => r.data.readDoubleBE(r.advance(8))], // BINFLOAT
  [0x49, (r) => r.textInt(r.line())], // INT
  [0x4c, (r) => r.textInt(r.line().replace(/L$/, ''))], // LONG
  [0x46, (r) => Number.parseFloat(r.line())], // FLOAT
  [0x58, (r) => r.text(u32(r))], // BINUNICODE
  [0x8c, (r) => r.text(r.byte())], // SHORT_BINUNICODE
  [0x8d, (r) => r.text(r.u64())], // BINUNICODE8
  [0x54, (r) => r.text(u32(r))], // BINSTRING
  [0x55, (r) => r.text(r.byte())], // SHORT_BINSTRING
  [0x42, (r) => r.take(u32(r))], // BINBYTES
  [0x43, (r) => r.take(r.byte())], // SHORT_BINBYTES
  [0x8e, (r) => r.take(r.u64())], // BINBYTES8
  [0x56, (r) => r.line()], // UNICODE (ASCII only here)
]);

/** Opcodes that push a new empty container. A set is read as an array. */
const EMPTY = new Map<number, () => unknown>([
  [0x29, () => []], // EMPTY_TUPLE
  [0x5d, () => []], // EMPTY_LIST
  [0x7d, () => new Map()], // EMPTY_DICT
  [0x8f, () => []], // EMPTY_SET
]);

/** TUPLE1, TUPLE2, TUPLE3: how many stack items each packs. */
const FIXED_TUPLE = new Map<number, number>([
  [0x85, 1],
  [0x86, 2],
  [0x87, 3],
]);

/** Memo opcodes and how each reads its memo index. */
const MEMO_INDEX = new Map<number, (r: Reader) => number>([
  [0x71, (r) => r.byte()], // BINPUT
  [0x72, (r) => u32(r)], // LONG_BINPUT
  [0x70, (r) => Number(r.line())], // PUT
  [0x94, (r) => r.memo.size], // MEMOIZE
  [0x68, (r) => r.byte()], // BINGET
  [0x6a, (r) => u32(r)], // LONG_BINGET
  [0x67, (r) => Number(r.line())], // GET
]);

function narrow(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}
