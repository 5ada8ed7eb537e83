import {
  AGE_LABELS,
  ATTRIBUTE_LABELS,
  GENDER_LABELS,
  PARSING_LABELS,
  RACE_LABELS,
  type ModelMetadata,
} from '../../src/model/contract.js';

/** Every label list of the model contract, fresh arrays, as model metadata carries them. */
export function contractLabels(): ModelMetadata['labels'] {
  return {
    attributes: [...ATTRIBUTE_LABELS],
    age: [...AGE_LABELS],
    gender: [...GENDER_LABELS],
    race: [...RACE_LABELS],
    parsing: [...PARSING_LABELS],
  };
}
