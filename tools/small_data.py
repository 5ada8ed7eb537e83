"""Training samples for facexstream-small: runtime-like crops, augmentation, teacher masks.

A sample is made the way the runtime makes its input: a detector-like box (derived from
the dlib landmarks, roughly what MediaPipe BlazeFace returns: cheek to cheek, brows to
chin, about square), grown by 50% of its width and height, clipped to the image, resized to
224x224 with bicubic interpolation, ImageNet-normalized. On top of that come scale and
shift jitter of the box, horizontal flips, small in-plane rotations and colour jitter.
Because the UTKFace crops are tight (200x200 around the face), the grown box is almost
always clipped; a share of the samples is therefore drawn without clipping, the missing
surroundings filled, so that the model also sees faces with the margin a video frame gives.

Parsing targets are drawn from the landmarks at a quarter of the input side (56x56 for
224); the loss is computed at that resolution. Classes follow LaPa; 'left' is the image's left (the subject's right).
Pixels the landmarks cannot explain (forehead above the drawn arc, hair, ears, the band
around the face outline) are IGNORE, never hair.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

INPUT = 224
MASK = 56
IGNORE = 255
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)

# iBUG 68-point index of each point's mirror image.
FLIP_68 = (
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30]
    + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65]
)

# LaPa classes (src/model/contract.ts PARSING_LABELS).
SKIN, L_BROW, R_BROW, L_EYE, R_EYE, NOSE, U_LIP, MOUTH, D_LIP = 1, 2, 3, 4, 5, 6, 7, 8, 9


def detector_box(points: np.ndarray) -> np.ndarray:
    """A BlazeFace-like square box [x0, y0, x1, y1] from 68 landmarks."""
    jaw = points[0:17]
    left, right = jaw[:, 0].min(), jaw[:, 0].max()
    top = points[17:27, 1].min()
    bottom = points[8, 1]
    side = 0.5 * ((right - left) + (bottom - top))
    cx, cy = 0.5 * (left + right), 0.5 * (top + bottom)
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], np.float32)


def crop_box(box: np.ndarray, width: int, height: int, clip: bool) -> np.ndarray:
    """The runtime's crop: grow by 50% in total, clip to the image, truncate to integers."""
    w, h = box[2] - box[0], box[3] - box[1]
    grown = np.array([box[0] - w / 4, box[1] - h / 4, box[2] + w / 4, box[3] + h / 4])
    if clip:
        grown = np.array(
            [max(0, grown[0]), max(0, grown[1]), min(width, grown[2]), min(height, grown[3])]
        )
    return np.trunc(grown)


def make_sample(image, points, pose, box_fallback, rng, train: bool, size: int = INPUT,
                mask_size: int = MASK):
    """Returns (chw float32 image, landmarks [68,2] in [-1,1] or None, pose or None, mask).

    `size` is the input side (224 at run time; smaller for the cheap first training phase),
    `mask_size` the side of the parsing target.
    """
    height, width = image.shape[:2]
    have = points is not None
    pose = None if pose is None else pose.copy()

    if train and rng.random() < 0.5:
        image = image[:, ::-1]
        if have:
            points = points[FLIP_68].copy()
            points[:, 0] = width - 1 - points[:, 0]
        if pose is not None:
            pose[1], pose[2] = -pose[1], -pose[2]

    rot = np.array([[1, 0, 0], [0, 1, 0]], np.float64)
    if train and rng.random() < 0.5:
        degrees = rng.uniform(-15, 15)
        rot = cv2.getRotationMatrix2D((width / 2 - 0.5, height / 2 - 0.5), -degrees, 1.0)
        if have:
            points = points @ rot[:, :2].T + rot[:, 2]
        if pose is not None:
            pose[2] += math.radians(degrees)

    box = detector_box(points) if have else box_fallback.copy()
    clip = True
    if train:
        side = box[2] - box[0]
        scale = rng.uniform(0.85, 1.15)
        cx = 0.5 * (box[0] + box[2]) + rng.uniform(-0.1, 0.1) * side
        cy = 0.5 * (box[1] + box[3]) + rng.uniform(-0.1, 0.1) * side
        half = side * scale / 2
        box = np.array([cx - half, cy - half, cx + half, cy + half], np.float32)
        clip = rng.random() >= 0.4
    x0, y0, x1, y1 = crop_box(box, width, height, clip)
    sx, sy = size / max(x1 - x0, 1), size / max(y1 - y0, 1)
    # Pixel-centre mapping of a resize: u = (x - x0 + 0.5) * sx - 0.5.
    crop = np.array([[sx, 0, (0.5 - x0) * sx - 0.5], [0, sy, (0.5 - y0) * sy - 0.5]])
    full = _compose(crop, rot)

    border = cv2.BORDER_REPLICATE
    fill = 0
    if not clip and rng.random() < 0.5:
        border = cv2.BORDER_CONSTANT
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
    out = cv2.warpAffine(
        np.ascontiguousarray(image), full, (size, size), flags=cv2.INTER_CUBIC,
        borderMode=border, borderValue=fill,
    )
    if train:
        out = _colour_jitter(out, rng)

    landmarks = None
    mask = np.full((mask_size, mask_size), IGNORE, np.uint8)
    if have:
        pixels = points @ full[:, :2].T + full[:, 2]
        landmarks = ((2 * pixels + 1) / size - 1).astype(np.float32)
        ratio = mask_size / size
        inside = _inside_mask(full, width, height, size, mask_size)
        mask = draw_parsing((pixels + 0.5) * ratio - 0.5, inside, padded=not clip)

    chw = ((out.astype(np.float32) / 255 - MEAN) / STD).transpose(2, 0, 1)
    return np.ascontiguousarray(chw), landmarks, pose, mask


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a3 = np.vstack([a, [0, 0, 1]])
    b3 = np.vstack([b, [0, 0, 1]])
    return (a3 @ b3)[:2]


def _inside_mask(full: np.ndarray, width: int, height: int, size: int, side: int) -> np.ndarray:
    """1 where a mask pixel comes from inside the source image."""
    r = side / size
    to_mask = np.array([[r, 0, 0.5 * r - 0.5], [0, r, 0.5 * r - 0.5]])
    m = _compose(to_mask, full)
    ones = np.ones((height, width), np.uint8)
    return cv2.warpAffine(ones, m, (side, side), flags=cv2.INTER_NEAREST, borderValue=0)


def _colour_jitter(rgb: np.ndarray, rng) -> np.ndarray:
    img = rgb.astype(np.float32)
    img = img * rng.uniform(0.7, 1.3) + rng.uniform(-25, 25)
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * rng.uniform(0.6, 1.4)
    if rng.random() < 0.1:
        img = np.repeat(img.mean(axis=2, keepdims=True), 3, axis=2)
    if rng.random() < 0.15:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.5))
    return np.clip(img, 0, 255).astype(np.uint8)


def _poly(points: np.ndarray) -> np.ndarray:
    return np.round(points * 4).astype(np.int32).reshape(-1, 1, 2)


def draw_parsing(p: np.ndarray, inside: np.ndarray, padded: bool) -> np.ndarray:
    """LaPa-class mask (IGNORE where unknown) from 68 points in mask pixel coordinates."""
    mask = np.zeros(inside.shape, np.uint8)
    right = p[16] - p[0]
    face_width = max(float(np.linalg.norm(right)), 1.0)
    right = right / face_width
    brows = p[17:27]
    up = brows.mean(0) - p[8]
    face_height = max(float(np.linalg.norm(up)), 1.0)
    up = up / face_height

    # Forehead arc: the brows lifted by a fifth of the brow-to-chin height.
    arc = brows + up * 0.2 * face_height
    skin = np.vstack([p[0:17], arc[::-1]])

    # Above the ears and around the face outline nothing is known: ignore.
    unknown = np.zeros_like(mask)
    a, b = p[0] - right * 0.6 * face_width, p[16] + right * 0.6 * face_width
    far = 3 * face_width * up
    cv2.fillPoly(unknown, [_poly(np.array([a, b, b + far, a + far]))], 1, cv2.LINE_8, 2)
    band = max(1, int(round(0.08 * face_width)))
    skin_only = np.zeros_like(mask)
    cv2.fillPoly(skin_only, [_poly(skin)], 1, cv2.LINE_8, 2)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    unknown |= cv2.dilate(skin_only, kernel)
    mask[unknown > 0] = IGNORE

    mask[skin_only > 0] = SKIN
    thick = max(1, int(round(0.05 * face_width)))
    cv2.polylines(mask, [_poly(p[17:22])], False, L_BROW, thick, cv2.LINE_8, 2)
    cv2.polylines(mask, [_poly(p[22:27])], False, R_BROW, thick, cv2.LINE_8, 2)
    nose = cv2.convexHull(_poly(p[27:36]))
    cv2.fillPoly(mask, [nose], NOSE, cv2.LINE_8, 2)
    cv2.fillPoly(mask, [_poly(p[36:42])], L_EYE, cv2.LINE_8, 2)
    cv2.fillPoly(mask, [_poly(p[42:48])], R_EYE, cv2.LINE_8, 2)
    cv2.fillPoly(mask, [_poly(np.vstack([p[48:55], p[[64, 63, 62, 61, 60]]]))], U_LIP, cv2.LINE_8, 2)
    cv2.fillPoly(mask, [_poly(np.vstack([p[54:60], p[[48, 60, 67, 66, 65, 64]]]))], D_LIP, cv2.LINE_8, 2)
    cv2.fillPoly(mask, [_poly(p[60:68])], MOUTH, cv2.LINE_8, 2)

    # Outside the source image: background when the sample was drawn without clipping
    # (the fill stands for surroundings), else ignore (rotation corners).
    mask[inside == 0] = 0 if padded else IGNORE
    return mask
