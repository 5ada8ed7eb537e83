/**
 * Every error that reaches a user carries a stable code from this table. Tests assert the
 * code, never the wording. Messages are one line: they name the bad input and the way out.
 */
export const ErrorCodes = {
  /** The ffmpeg binary was not found on PATH nor in an npm package. */
  FFMPEG_MISSING: 'FXS_ERR_FFMPEG_MISSING',
  /** An input string is empty or names a scheme or device kind facexstream cannot read. */
  INPUT_UNSUPPORTED: 'FXS_ERR_INPUT_UNSUPPORTED',
  /** An input path does not exist. */
  INPUT_NOT_FOUND: 'FXS_ERR_INPUT_NOT_FOUND',
  /** An input exists but holds no decodable video (not a video, audio only, corrupt). */
  INPUT_UNREADABLE: 'FXS_ERR_INPUT_UNREADABLE',
  /** A video ended early because its data is cut short or damaged. */
  INPUT_TRUNCATED: 'FXS_ERR_INPUT_TRUNCATED',
  /** A network source (RTSP/HTTP) could not be reached, refused or rejected credentials. */
  SOURCE_UNREACHABLE: 'FXS_ERR_SOURCE_UNREACHABLE',
  /** A live source stopped delivering frames and did not come back within its retry budget. */
  SOURCE_LOST: 'FXS_ERR_SOURCE_LOST',
  /** A task name is not one of the known FaceXFormer tasks. */
  UNKNOWN_TASK: 'FXS_ERR_UNKNOWN_TASK',
  /** A task was asked of a model that was not trained for it. */
  TASK_UNSUPPORTED: 'FXS_ERR_TASK_UNSUPPORTED',
  /** The model file is missing. */
  MODEL_NOT_FOUND: 'FXS_ERR_MODEL_NOT_FOUND',
  /** The model file exists but is not a valid facexstream ONNX model. */
  MODEL_INVALID: 'FXS_ERR_MODEL_INVALID',
  /** A PyTorch checkpoint could not be read (not a zip, truncated, unsupported pickle). */
  CHECKPOINT_UNREADABLE: 'FXS_ERR_CHECKPOINT_UNREADABLE',
  /** A checkpoint was read but its keys or shapes do not match the architecture. */
  CHECKPOINT_MISMATCH: 'FXS_ERR_CHECKPOINT_MISMATCH',
  /** A download failed or its checksum did not match. */
  DOWNLOAD_FAILED: 'FXS_ERR_DOWNLOAD_FAILED',
  /** The requested execution device is not available. */
  DEVICE_UNAVAILABLE: 'FXS_ERR_DEVICE_UNAVAILABLE',
  /** A configuration file or a CLI flag is invalid. */
  CONFIG_INVALID: 'FXS_ERR_CONFIG_INVALID',
  /** A WebSocket or HTTP API request is malformed. */
  BAD_REQUEST: 'FXS_ERR_BAD_REQUEST',
  /** The face detector failed to load or run. */
  DETECTOR_FAILED: 'FXS_ERR_DETECTOR_FAILED',
  /** An HTTP or WebSocket request lacks the access token, or its Origin or Host is not allowed. */
  UNAUTHORIZED: 'FXS_ERR_UNAUTHORIZED',
  /** An API request names a stream id that does not exist. */
  STREAM_NOT_FOUND: 'FXS_ERR_STREAM_NOT_FOUND',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The one error class of facexstream: a message for people and a stable code for programs. */
export class FxsError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FxsError';
    this.code = code;
  }
}

/** True when `err` is an FxsError with the given code. */
export function isFxsError(err: unknown, code?: ErrorCode): err is FxsError {
  return err instanceof FxsError && (code === undefined || err.code === code);
}
