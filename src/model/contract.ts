/**
 * The FaceXFormer model contract shared by the exporter (tools/), the runtime (src/model)
 * and every consumer of results. Documented in docs/model-contract.md.
 *
 * Input `image`: float32 [N, 3, 224, 224], RGB, ImageNet-normalized.
 * Outputs, one forward pass for every task:
 *   landmarks [N,136]  68 (x, y) pairs in [-1, 1] over the crop
 *   headpose  [N,3]    pitch, yaw, roll in radians
 *   attributes[N,40]   CelebA attribute logits
 *   visibility[N,29]   landmark visibility logits (COFW 29 points)
 *   age       [N,8]    age-bin logits
 *   gender    [N,2]    gender logits
 *   race      [N,5]    race logits
 *   parsing   [N,11,224,224] face-parsing class logits
 */

/** Task names as they appear in CLI flags, JSONL records and the WebSocket protocol. */
export const TASKS = [
  'parsing',
  'landmarks',
  'headPose',
  'attributes',
  'age',
  'gender',
  'race',
  'visibility',
] as const;

export type TaskName = (typeof TASKS)[number];

/** ONNX output name of each task. */
export const TASK_OUTPUT: Record<TaskName, string> = {
  parsing: 'parsing',
  landmarks: 'landmarks',
  headPose: 'headpose',
  attributes: 'attributes',
  age: 'age',
  gender: 'gender',
  race: 'race',
  visibility: 'visibility',
};

/** ONNX input name. */
export const INPUT_NAME = 'image';

/** Output order of the ONNX graph. */
export const OUTPUT_NAMES = [
  'landmarks',
  'headpose',
  'attributes',
  'visibility',
  'age',
  'gender',
  'race',
  'parsing',
] as const;

/** Per-face element count of each output. */
export const OUTPUT_SIZES: Record<(typeof OUTPUT_NAMES)[number], number> = {
  landmarks: 136,
  headpose: 3,
  attributes: 40,
  visibility: 29,
  age: 8,
  gender: 2,
  race: 5,
  parsing: 11 * 224 * 224,
};

/** Model input side in pixels. */
export const INPUT_SIZE = 224;

/** ImageNet normalization used by the published model. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/**
 * Crop margin: the detector box grows by this fraction of its width and height in total
 * (half on each side), then is clipped to the frame, as the published inference does.
 */
export const CROP_MARGIN = 0.5;

/** The 40 CelebA attributes in the dataset's column order. */
export const ATTRIBUTE_LABELS = [
  '5_o_Clock_Shadow', 'Arched_Eyebrows', 'Attractive', 'Bags_Under_Eyes', 'Bald', 'Bangs',
  'Big_Lips', 'Big_Nose', 'Black_Hair', 'Blond_Hair', 'Blurry', 'Brown_Hair',
  'Bushy_Eyebrows', 'Chubby', 'Double_Chin', 'Eyeglasses', 'Goatee', 'Gray_Hair',
  'Heavy_Makeup', 'High_Cheekbones', 'Male', 'Mouth_Slightly_Open', 'Mustache',
  'Narrow_Eyes', 'No_Beard', 'Oval_Face', 'Pale_Skin', 'Pointy_Nose', 'Receding_Hairline',
  'Rosy_Cheeks', 'Sideburns', 'Smiling', 'Straight_Hair', 'Wavy_Hair', 'Wearing_Earrings',
  'Wearing_Hat', 'Wearing_Lipstick', 'Wearing_Necklace', 'Wearing_Necktie', 'Young',
] as const;

/** Age bins of the age head. */
export const AGE_LABELS = ['0-9', '10-19', '20-29', '30-39', '40-49', '50-59', '60-69', '70+'] as const;

/** Gender head labels. */
export const GENDER_LABELS = ['male', 'female'] as const;

/** Race head labels. */
export const RACE_LABELS = ['White', 'Black', 'Indian', 'Asian', 'Others'] as const;

/** The 11 face-parsing classes (LaPa layout). */
export const PARSING_LABELS = [
  'background', 'skin', 'left_eyebrow', 'right_eyebrow', 'left_eye', 'right_eye', 'nose',
  'upper_lip', 'inner_mouth', 'lower_lip', 'hair',
] as const;

/** Display colours of the parsing classes, RGB, index-aligned with PARSING_LABELS. */
export const PARSING_COLORS: ReadonlyArray<readonly [number, number, number]> = [
  [0, 0, 0], [255, 153, 0], [102, 255, 153], [0, 204, 153], [255, 255, 102], [255, 255, 204],
  [0, 153, 255], [255, 102, 255], [51, 0, 102], [255, 204, 255], [102, 0, 255],
];

/** Number of landmark-visibility outputs (the COFW 29-point layout). */
export const VISIBILITY_POINTS = 29;

/**
 * Metadata every facexstream ONNX model carries in `metadata_props`, under the key
 * `facexstream` as JSON. Written by the exporter and the importer, read by the runtime.
 */
export interface ModelMetadata {
  /** Format version of this metadata. */
  schema: 1;
  /** Short model name shown to users, e.g. 'facexformer-swin-b' or 'facexstream-small'. */
  name: string;
  /** Tasks the model was trained for; outputs of other tasks are never presented. */
  tasks: TaskName[];
  /** Label names per classification task. */
  labels: {
    attributes: string[];
    age: string[];
    gender: string[];
    race: string[];
    parsing: string[];
  };
  inputSize: number;
  mean: number[];
  std: number[];
  cropMargin: number;
  /** Parameter count of the network. */
  parameters: number;
  /** Where the weights came from, the licence, and notes on label-order evidence. */
  provenance: {
    source: string;
    license: string;
    notes?: string;
    sha256?: string;
  };
}

/** Key of the JSON metadata entry in ONNX metadata_props. */
export const METADATA_KEY = 'facexstream';
