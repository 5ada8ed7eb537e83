/**
 * The part of the TFLite flatbuffer schemas that the detector needs to add metadata to a
 * model: field slots of the model tables it reads or rewrites (schema.fbs, file identifier
 * `TFL3`) and of the metadata tables it writes (metadata_schema.fbs, identifier `M001`).
 *
 * A slot is the field's index in its table; its vtable entry sits at `4 + 2 * slot`.
 */
export const TfliteSchema = {
  /** File identifier of a TFLite model, bytes 4-7. */
  modelIdentifier: 'TFL3',
  /** File identifier of a TFLite metadata buffer. */
  metadataIdentifier: 'M001',
  /** Name of the `Metadata` entry that holds the `ModelMetadata` buffer. */
  metadataName: 'TFLITE_METADATA',
  /** Metadata parser version that understands every table written here. */
  minParserVersion: '1.0.0',

  /** `table Model`: the root of a .tflite file. */
  Model: {
    version: 0,
    operatorCodes: 1,
    subgraphs: 2,
    description: 3,
    buffers: 4,
    metadataBuffer: 5,
    metadata: 6,
    signatureDefs: 7,
    /** Number of fields this subset knows; a model with more was written by a newer schema. */
    fieldCount: 8,
  },
  /** `table Buffer`: raw bytes, 16-byte aligned. */
  Buffer: { data: 0, alignment: 16 },
  /** `table Metadata`: a named pointer to a buffer. */
  Metadata: { name: 0, buffer: 1 },

  /** `table ModelMetadata` (root of the `M001` buffer). */
  ModelMetadata: { name: 0, subgraphMetadata: 3, minParserVersion: 7, fieldCount: 8 },
  /** `table SubGraphMetadata`. */
  SubGraphMetadata: { inputTensorMetadata: 2, fieldCount: 10 },
  /** `table TensorMetadata`. */
  TensorMetadata: { name: 0, processUnits: 4, fieldCount: 7 },
  /** `table ProcessUnit`: a union field, stored as a type byte and a table offset. */
  ProcessUnit: { optionsType: 0, options: 1, fieldCount: 2 },
  /** `union ProcessUnitOptions` member numbers (0 is NONE). */
  ProcessUnitOptions: { NormalizationOptions: 1 },
  /** `table NormalizationOptions`: per-channel `(x - mean) / std`. */
  NormalizationOptions: { mean: 0, std: 1, fieldCount: 2 },
} as const;
