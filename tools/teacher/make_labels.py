"""Teacher labels for facexstream-small from UTKFace and dlib's 68 landmarks.

Reads the table printed by dlib_landmarks (tools/teacher/dlib_landmarks.cpp), adds the
demographic labels from UTKFace's file names and a head pose solved from the landmarks,
and writes one .npz file with everything the trainer needs.

    /usr/bin/python3 tools/teacher/make_labels.py dlib.tsv labels.npz

Conventions written here (docs/model-card.md repeats them):
- landmarks: dlib's 68 points, iBUG 300-W order, in pixels of the 200x200 image.
- pose: pitch, yaw, roll in radians, with the signs of the published model's drawing code
  (upstream inference.py, visualize_head_pose): yaw > 0 when the face turns toward the
  image's right, pitch > 0 when it looks up, roll > 0 when it turns clockwise on screen.
- race: remapped to the contract's order White, Black, Indian, Asian, Others.
- age: bins 0-9, 10-19, ..., 60-69, 70+.
- split: a seeded 10% of the images (by sorted file name) is the held-out validation set;
  its paths are also written to LABELS-val.txt beside the .npz.
"""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np

# UTKFace race index -> contract index (White, Black, Indian, Asian, Others).
RACE_REMAP = {0: 0, 1: 1, 2: 3, 3: 2, 4: 4}
VAL_FRACTION = 0.1
SPLIT_SEED = 20261203

# A generic head in arbitrary units (about millimetres), axes x = image right, y = image
# down, z = away from the camera, for a frontal face. The well-known six-point model:
# nose tip, chin, outer eye corners, mouth corners, with their dlib indices.
MODEL_POINTS = np.array(
    [
        (0.0, 0.0, 0.0),  # 30 nose tip
        (0.0, 330.0, 65.0),  # 8 chin
        (-225.0, -170.0, 135.0),  # 36 outer corner of the image-left eye
        (225.0, -170.0, 135.0),  # 45 outer corner of the image-right eye
        (-150.0, 150.0, 125.0),  # 48 image-left mouth corner
        (150.0, 150.0, 125.0),  # 54 image-right mouth corner
    ],
    dtype=np.float64,
)
MODEL_INDICES = [30, 8, 36, 45, 48, 54]


def head_pose(points: np.ndarray, width: int, height: int) -> np.ndarray | None:
    """Pitch, yaw, roll (radians) of 68 landmarks, or None when PnP fails."""
    focal = float(width)
    camera = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], np.float64)
    image_points = points[MODEL_INDICES].astype(np.float64)
    # Start from a frontal head at the distance the eye spacing implies: without a guess the
    # solver sometimes lands on the mirrored solution behind the face (pitch near 180 deg).
    eyes = max(float(np.linalg.norm(image_points[3] - image_points[2])), 1.0)
    depth = focal * 450.0 / eyes
    nose = image_points[0]
    tvec = np.array([(nose[0] - width / 2) * depth / focal, (nose[1] - height / 2) * depth / focal,
                     depth]).reshape(3, 1)
    rvec = np.zeros((3, 1))
    ok, rvec, _ = cv2.solvePnP(
        MODEL_POINTS, image_points, camera, np.zeros(4), rvec, tvec, True, cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return None
    rot, _ = cv2.Rodrigues(rvec)
    angles = angles_from_rotation(rot)
    # A generic six-point head cannot be trusted beyond these angles; such images keep
    # their landmarks but lose their pose label.
    if np.any(np.abs(np.degrees(angles)) > np.array([60.0, 80.0, 60.0])):
        return None
    return angles


def angles_from_rotation(rot: np.ndarray) -> np.ndarray:
    """Upstream's drawing angles from a head-to-camera rotation (head z = back of the head).

    The drawing puts the facing axis at (sin yaw, -cos yaw sin pitch) in image x, y; the
    facing direction of our head frame is -rot[:, 2]. Roll is the on-screen turn of the
    head's x axis.
    """
    yaw = np.arcsin(np.clip(-rot[0, 2], -1.0, 1.0))
    pitch = np.arctan2(rot[1, 2], rot[2, 2])
    roll = np.arctan2(-rot[0, 1], rot[0, 0])
    return np.array([pitch, yaw, roll], dtype=np.float32)


def parse_name(name: str) -> tuple[int, int, int] | None:
    """(age bin, gender, contract race) from AGE_GENDER_RACE_DATETIME.jpg, or None."""
    parts = name.split("_")
    if len(parts) < 4:
        return None
    try:
        age, gender, race = int(parts[0]), int(parts[1]), int(parts[2])
    except ValueError:
        return None
    if gender not in (0, 1) or race not in RACE_REMAP:
        return None
    return min(age // 10, 7), gender, RACE_REMAP[race]


def main(table: str, out: str) -> None:
    names, paths, demo, ok, marks, boxes, poses, ages = [], [], [], [], [], [], [], []
    pose_ok = []
    skipped = 0
    for line in open(table):
        fields = line.rstrip("\n").split("\t")
        path = fields[0]
        labels = parse_name(os.path.basename(path))
        if labels is None or fields[1] == "error":
            skipped += 1
            continue
        image = cv2.imread(path)
        height, width = image.shape[:2]
        have = fields[1] == "ok"
        points = np.zeros((68, 2), np.float32)
        box = np.zeros(4, np.float32)
        pose = np.zeros(3, np.float32)
        solved = None
        if have:
            box = np.array(fields[3:7], np.float32)
            points = np.array(fields[7:], np.float32).reshape(68, 2)
            solved = head_pose(points, width, height)
            if solved is not None:
                pose = solved
        pose_ok.append(have and solved is not None)
        names.append(os.path.basename(path))
        paths.append(path)
        demo.append(labels)
        ok.append(have)
        marks.append(points)
        boxes.append(box)
        poses.append(pose)
        ages.append(int(os.path.basename(path).split("_")[0]))

    order = np.argsort(names)
    rng = np.random.RandomState(SPLIT_SEED)
    val = np.zeros(len(names), bool)
    val[order[rng.permutation(len(names))[: int(round(VAL_FRACTION * len(names)))]]] = True
    demo_arr = np.array(demo, np.int64)
    np.savez(
        out,
        path=np.array(paths),
        ok=np.array(ok),
        pose_ok=np.array(pose_ok),
        landmarks=np.stack(marks),
        box=np.stack(boxes),
        pose=np.stack(poses),
        age_bin=demo_arr[:, 0],
        age=np.array(ages, np.int64),
        gender=demo_arr[:, 1],
        race=demo_arr[:, 2],
        val=val,
    )
    # The held-out images as a list the runtime reads (bench/accuracy.ts evaluates through
    # detection, crop and ONNX Runtime with it).
    with open(os.path.splitext(out)[0] + "-val.txt", "w") as listing:
        listing.writelines(os.path.abspath(p) + "\n" for p, v in zip(paths, val) if v)
    pose_deg = np.degrees(np.stack(poses)[np.array(pose_ok)])
    print(f"{len(names)} images ({skipped} skipped), {int(np.sum(ok))} with landmarks, "
          f"{int(np.sum(pose_ok))} with a pose, {int(val.sum())} held out")
    print("pose deg p5/p50/p95 (pitch, yaw, roll):",
          np.percentile(pose_deg, [5, 50, 95], axis=0).round(1).tolist())


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: make_labels.py DLIB_TABLE OUT.npz")
    main(sys.argv[1], sys.argv[2])
