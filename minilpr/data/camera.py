"""A pinhole camera looking at a flat rectangle: the homography of a posed plate, or car.

A point (x, y) of the rectangle (millimetres or canvas pixels, x right, y down from its top-left
corner; the rectangle is ``width`` × ``height``) is turned about the rectangle's centre
``c = (width / 2, height / 2)`` by a rotation ``R`` and pushed back along the optical axis by
``d = camera_distance × width``:

    X = R (x - c_x, y - c_y, 0)ᵀ + (0, 0, d)ᵀ,      R = R_tilt · R_pitch · R_yaw

(yaw about the vertical axis first, then pitch about the horizontal one, then tilt about the
optical axis; image y points down, so a positive tilt, which turns the plate counter-clockwise
on screen, is the rotation by ``-tilt`` about z, and a positive yaw the rotation by ``-yaw``
about y). A pinhole of focal length ``d`` sees it at ``(d X₁ / X₃, d X₂ / X₃)``. Since the
rectangle is flat (z = 0) only the first two columns r₁, r₂ of ``R`` matter, and the whole map is
one (3, 3) homography

    H = diag(d, d, 1) · [ r₁  r₂  (0, 0, d)ᵀ - R (c_x, c_y, 0)ᵀ ].

A frontal rectangle (all angles 0) keeps its size, so a plate's millimetres stay millimetres.
``pose_homography`` builds ``H``; ``apply_homography`` maps points through any ``H``. The plate
crops (``augment.sample_geometry``) and the cars of a scene (``scenes``) both use it.
"""

from __future__ import annotations

import math

import numpy as np


def pose_homography(width_mm: float, height_mm: float, tilt_deg: float, yaw_deg: float,
                    pitch_deg: float, camera_distance: float = 3.0) -> np.ndarray:
    """The (3, 3) homography from plate mm to the image plane of a pinhole camera.

    The plate's centre sits on the optical axis at ``camera_distance`` plate widths; the focal
    length equals that distance, so a frontal plate keeps its size in mm. The plate is turned by
    yaw (about its vertical axis), then pitch (horizontal axis), then tilt (about the optical
    axis). ``tilt_deg > 0`` turns it counter-clockwise on screen, ``yaw_deg > 0`` moves its right
    edge away from the camera, ``pitch_deg > 0`` its bottom edge.
    """
    return np.array(pose_rows(width_mm, height_mm, tilt_deg, yaw_deg, pitch_deg, camera_distance))


def apply_homography(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (P, 2) mapped through the (3, 3) homography ``h``; returns (P, 2) float64."""
    p = points @ h[:, :2].T + h[:, 2]  # (P, 3) homogeneous images
    return p[:, :2] / p[:, 2:3]


def pose_rows(width_mm: float, height_mm: float, tilt_deg: float, yaw_deg: float,
              pitch_deg: float, camera_distance: float) -> tuple:
    """``pose_homography`` as nested tuples of Python floats (see ``matmul3`` for why)."""
    yaw, pitch, tilt = math.radians(yaw_deg), math.radians(pitch_deg), math.radians(-tilt_deg)
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    ct, st = math.cos(tilt), math.sin(tilt)
    r_yaw = ((cy, 0.0, -sy), (0.0, 1.0, 0.0), (sy, 0.0, cy))
    r_pitch = ((1.0, 0.0, 0.0), (0.0, cp, -sp), (0.0, sp, cp))
    r_tilt = ((ct, -st, 0.0), (st, ct, 0.0), (0.0, 0.0, 1.0))
    rotation = matmul3(r_tilt, matmul3(r_pitch, r_yaw))
    distance = camera_distance * width_mm
    mid_x, mid_y = width_mm / 2, height_mm / 2
    # columns: image of the plate's x axis, of its y axis, and of its origin (the top-left
    # corner, i.e. minus the rotated centre, pushed back by the distance); the intrinsic
    # matrix diag(distance, distance, 1) then scales the first two rows
    rows = []
    for i, (r0, r1, _) in enumerate(rotation):
        origin = -(r0 * mid_x + r1 * mid_y) + (distance if i == 2 else 0.0)
        scale = 1.0 if i == 2 else distance
        rows.append((scale * r0, scale * r1, scale * origin))
    return tuple(rows)


def matmul3(a, b) -> tuple:
    """The product of two 3×3 matrices given as nested tuples of Python floats.

    Why not NumPy: for 3×3 matrices each NumPy call costs more in overhead than the 27
    multiplications, and a crop needs a handful of them.
    """
    columns = tuple(zip(*b))
    return tuple([tuple([x0 * y0 + x1 * y1 + x2 * y2 for y0, y1, y2 in columns])
                  for x0, x1, x2 in a])


def project(h, x: float, y: float) -> tuple[float, float]:
    """The point (x, y) mapped through the nested-tuple homography ``h``."""
    w = h[2][0] * x + h[2][1] * y + h[2][2]
    return (h[0][0] * x + h[0][1] * y + h[0][2]) / w, (h[1][0] * x + h[1][1] * y + h[1][2]) / w
