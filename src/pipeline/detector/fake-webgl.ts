/**
 * The smallest WebGL2 canvas that MediaPipe Tasks needs to run a CPU model in Node.
 *
 * MediaPipe always takes a frame in through a GL texture: the JS side uploads the image with
 * `texImage2D`, and the wasm side, on the CPU delegate, attaches that texture to a framebuffer
 * and copies it back to its heap with `readPixels`. This context keeps the uploaded pixels of
 * each texture and serves them back; it draws nothing. Any other call is accepted and ignored,
 * which holds for the face detector graph but not for GPU graphs (those need a real context).
 */
export class FakeWebGlCanvas {
  /** Resized by MediaPipe to each frame's size. */
  width = 1;
  height = 1;
  private readonly context = createContext(this);

  getContext(kind: string): object | null {
    return kind === 'webgl2' ? this.context : null;
  }

  addEventListener(): void {}

  removeEventListener(): void {}
}

/** Pixels of an RGBA image as MediaPipe hands them to `texImage2D`. */
interface Upload {
  data: ArrayLike<number>;
  width: number;
  height: number;
}

interface Texture {
  pixels?: Upload;
}

interface Framebuffer {
  color?: Texture;
}

const GL = {
  TEXTURE_2D: 0x0de1,
  FRAMEBUFFER: 0x8d40,
  COLOR_ATTACHMENT0: 0x8ce0,
  RGBA: 0x1908,
  UNSIGNED_BYTE: 0x1401,
  NO_ERROR: 0,
  FRAMEBUFFER_COMPLETE: 0x8cd5,
  CONDITION_SATISFIED: 0x911c,
  UNPACK_FLIP_Y_WEBGL: 0x9240,
  VENDOR: 0x1f00,
  RENDERER: 0x1f01,
  VERSION: 0x1f02,
  SHADING_LANGUAGE_VERSION: 0x8b8c,
  MAX_TEXTURE_SIZE: 0x0d33,
  MAX_VERTEX_ATTRIBS: 0x8869,
} as const;

/** Calls the detector graph makes whose effect it never observes. */
const IGNORED = [
  'activeTexture',
  'texParameteri',
  'pixelStorei',
  'deleteSync',
  'deleteTexture',
  'deleteFramebuffer',
  'flush',
  'finish',
];

const PARAMETERS = new Map<number, string | number>([
  [GL.VENDOR, 'facexstream'],
  [GL.RENDERER, 'no-op'],
  [GL.VERSION, 'WebGL 2.0'],
  [GL.SHADING_LANGUAGE_VERSION, 'WebGL GLSL ES 3.00'],
  [GL.MAX_TEXTURE_SIZE, 16384],
  [GL.MAX_VERTEX_ATTRIBS, 16],
]);

/**
 * A plain object, not a Proxy that answers every name: emscripten stores its own state on the
 * context (`currentPixelPackBufferBinding` and others) and reads it back as truthy or not.
 */
function createContext(canvas: FakeWebGlCanvas): object {
  let texture: Texture | null = null;
  let framebuffer: Framebuffer | null = null;

  const known: Record<string, unknown> = {
    ...GL,
    canvas,
    getParameter: (name: number) => PARAMETERS.get(name) ?? 0,
    getExtension: () => null,
    getSupportedExtensions: () => [],
    getContextAttributes: () => ({ alpha: true, antialias: false, depth: false }),
    getError: () => GL.NO_ERROR,
    isContextLost: () => false,
    checkFramebufferStatus: () => GL.FRAMEBUFFER_COMPLETE,
    clientWaitSync: () => GL.CONDITION_SATISFIED,
    createTexture: (): Texture => ({}),
    createFramebuffer: (): Framebuffer => ({}),
    fenceSync: () => ({}),
    bindTexture: (_target: number, t: Texture | null) => {
      texture = t;
    },
    bindFramebuffer: (_target: number, f: Framebuffer | null) => {
      framebuffer = f;
    },
    framebufferTexture2D: (_t: number, _a: number, _tt: number, t: Texture | null) => {
      if (framebuffer) framebuffer.color = t ?? undefined;
    },
    texImage2D: (...args: unknown[]) => {
      // The 6-argument form uploads an image object; the others allocate or copy raw memory,
      // which the detector graph never reads back.
      if (texture) texture.pixels = args.length === 6 ? (args[5] as Upload) : undefined;
    },
    readPixels: (x: number, y: number, w: number, h: number, ...rest: unknown[]) => {
      const [, , destination, destinationOffset] = rest as [number, number, Uint8Array, number?];
      readPixels(framebuffer?.color?.pixels, x, y, w, h, destination, destinationOffset ?? 0);
    },
  };

  for (const name of IGNORED) known[name] = noop;
  return known;
}

function noop(): void {}

/** Copies an RGBA rectangle of `source` into `destination` at `offset`, rows top to bottom. */
function readPixels(
  source: Upload | undefined,
  x: number,
  y: number,
  width: number,
  height: number,
  destination: Uint8Array,
  offset: number,
): void {
  if (!source) return;

  const data = source.data as Uint8Array;
  const rowBytes = width * 4;
  for (let row = 0; row < height; row++) {
    const from = ((y + row) * source.width + x) * 4;
    destination.set(data.subarray(from, from + rowBytes), offset + row * rowBytes);
  }
}
