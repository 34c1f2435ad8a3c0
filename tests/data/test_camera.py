"""The pinhole camera: frontal plates keep their millimetres, angles turn the way they say."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilpr.data import augment, camera
from minilpr.data.camera import apply_homography, pose_homography

PLATE_MM = np.array([[0, 0], [440, 0], [440, 140], [0, 140]], np.float64)


def test_frontal_pose_keeps_millimetres():
    h = pose_homography(440, 140, 0, 0, 0)
    seen = apply_homography(h, PLATE_MM)
    np.testing.assert_allclose(seen - seen[0], PLATE_MM, atol=1e-9)


def test_tilt_sign_and_angle():
    seen = apply_homography(pose_homography(440, 140, 20, 0, 0), PLATE_MM)
    top = seen[1] - seen[0]
    assert np.degrees(np.arctan2(-top[1], top[0])) == pytest.approx(20)  # counter-clockwise


def test_yaw_and_pitch_shrink_the_far_edge():
    seen = apply_homography(pose_homography(440, 140, 0, 25, 0), PLATE_MM)
    left, right = seen[3, 1] - seen[0, 1], seen[2, 1] - seen[1, 1]
    assert right < left                       # yaw > 0: right edge farther, so shorter
    seen = apply_homography(pose_homography(440, 140, 0, 0, 25), PLATE_MM)
    assert seen[2, 0] - seen[3, 0] < seen[1, 0] - seen[0, 0]    # pitch > 0: bottom shorter




def _rotations(degrees: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The right-handed (3, 3) rotations by ``degrees`` about x, y and z."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    about_x = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    about_y = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    about_z = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return about_x, about_y, about_z


@given(st.floats(-30, 30), st.floats(-40, 40), st.floats(-30, 30), st.floats(1.5, 6),
       st.floats(50, 600), st.floats(20, 300))
def test_pose_is_the_pinhole_formula_of_the_docstring(tilt, yaw, pitch, distance, width, height):
    # H = diag(d, d, 1) [r1 r2 (0, 0, d) - R c], R = R_tilt R_pitch R_yaw, built with NumPy
    # image y points down, so a counter-clockwise tilt on screen is a negative turn about z,
    # and a positive yaw (right edge away) a negative turn about y
    rotation = _rotations(-tilt)[2] @ _rotations(pitch)[0] @ _rotations(-yaw)[1]
    d = distance * width
    centre = np.array([width / 2, height / 2, 0.0])
    columns = np.column_stack([rotation[:, 0], rotation[:, 1], [0, 0, d] - rotation @ centre])
    expected = np.diag([d, d, 1.0]) @ columns
    np.testing.assert_allclose(pose_homography(width, height, tilt, yaw, pitch, distance),
                               expected, rtol=1e-12, atol=1e-9 * d)


def test_tuple_helpers_agree_with_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 3))
    np.testing.assert_allclose(camera.matmul3(a.tolist(), b.tolist()), a @ b, rtol=1e-12)
    h = pose_homography(440, 140, 7, -12, 9)
    np.testing.assert_allclose(camera.project(h.tolist(), 100.0, 30.0),
                               apply_homography(h, np.array([[100.0, 30.0]]))[0], rtol=1e-12)


@pytest.mark.parametrize("name", ["pose_homography", "apply_homography"])
def test_augment_still_answers_to_the_camera_names(name):
    assert getattr(augment, name) is getattr(camera, name)
