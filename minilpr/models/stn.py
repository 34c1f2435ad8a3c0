"""The spatial transformer that straightens a plate before the recogniser (patent step 503).

Three parts (Jaderberg et al. 2015; the patent's Table 4 and formulas 2-1, 2-2):

1. the **localisation net** looks at the gray plate and regresses six numbers, the affine
   matrix ``theta`` (2 × 3);
2. the **grid generator** (`minilpr.nn.spatial.affine_grid`) turns ``theta`` into one sampling
   point in the input per output pixel;
3. the **sampler** (`minilpr.nn.spatial.grid_sample`) reads the input there, bilinearly.

Nothing tells the localisation net what a straight plate is: it learns ``theta`` only from the
gradient of the recogniser's loss, which reaches ``theta`` because bilinear sampling is
differentiable with respect to *where* it samples. The last layer starts at the identity
transform (zero weights, bias ``[1, 0, 0, 0, 1, 0]``), so a fresh STN passes the plate through
untouched and training starts from "do nothing" rather than from a random warp.

Choosing the localisation net: `TABLE4` (the default, the patent's table read literally),
`HALF` (the same layers on the gray plate at half size) or `COMPACT` (a pool after every
convolution) — pass the config, or its name, ``SpatialTransformer("half")``.

The helpers at the end build known warps (`tilt_theta`, `warp`, `invert_theta`), which make
tilted test cases and the lesson's gallery; plots live in `minilpr.models.stn_viz`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from minilpr.nn.activation import LeakyReLU
from minilpr.nn.conv import Conv2d
from minilpr.nn.dropout import Dropout
from minilpr.nn.init import default_rng
from minilpr.nn.linear import Linear
from minilpr.nn.module import Module, Sequential
from minilpr.nn.pool import MaxPool2d
from minilpr.nn.shape import Flatten
from minilpr.nn.spatial import (affine_grid, affine_grid_backward, affine_grid_forward,
                                grid_sample, grid_sample_backward, grid_sample_forward)

IDENTITY_THETA = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])

# ITU-R BT.601 luma weights for R, G, B (what OpenCV's RGB2GRAY uses). Channels are in RGB
# order, as minilpr.data makes them; an image read with cv2.imread is BGR and must be flipped.
GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class LocalisationConfig:
    """Sizes of the localisation net. The defaults are the patent's Table 4.

    Attributes
    ----------
    in_size : (H, W)
        Size of the gray image the net sees (the recogniser's input, 32 × 220). A
        `SpatialTransformer` whose input has another size resizes its gray image to this one
        (bilinearly, with the sampler itself), so the net may look at a smaller picture than
        the one it warps.
    channels : tuple of int
        Filters of the 3×3, stride 1, pad 1 convolutions, each followed by a leaky ReLU.
    pool_after : tuple of int
        Indices of the convolutions followed by a 2×2, stride 2 max pool. Table 4 pools once,
        after the first; `COMPACT` pools after every one.
    hidden : int
        Units of the first fully connected layer.
    dropout : float
        Drop probability before the last layer (Table 4 lists the layer but not its rate; 0.5
        is PyTorch's default).
    negative_slope : float
        Of every leaky ReLU.
    """

    in_size: tuple[int, int] = (32, 220)
    channels: tuple[int, ...] = (8, 16, 32)
    pool_after: tuple[int, ...] = (0,)
    hidden: int = 64
    dropout: float = 0.5
    negative_slope: float = 0.01

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the last convolution's output, which the first FC layer flattens.

        A convolution keeps the size; each pool halves it: ``out = in // 2``.
        """
        h, w = self.in_size
        for i in range(len(self.channels)):
            if i in self.pool_after:
                h, w = h // 2, w // 2
        return self.channels[-1], h, w

    @property
    def fc_in(self) -> int:
        """Inputs of the first FC layer: Table 4 gives 32 × 16 × 110 = 56,320."""
        return math.prod(self.feature_shape)

    def __post_init__(self):
        if not self.channels:
            raise ValueError("LocalisationConfig: channels must name at least one convolution")
        bad = [i for i in self.pool_after if not 0 <= i < len(self.channels)]
        if bad:
            raise ValueError(f"LocalisationConfig: pool_after {bad} names no convolution "
                             f"(there are {len(self.channels)})")
        if min(self.feature_shape[1:]) < 1:
            raise ValueError(f"LocalisationConfig: {len(self.pool_after)} poolings shrink an "
                             f"input of {self.in_size} to nothing")


# Table 4 exactly: its FC layer has 56,320 × 64 = 3.6 M weights, 99.8 % of the net.
TABLE4 = LocalisationConfig()
# Pool after every convolution: 32 × 4 × 27 = 3,456 features, 16× fewer FC weights.
COMPACT = LocalisationConfig(pool_after=(0, 1, 2))
# Table 4's layers on the gray plate at half size, 16 × 110: a quarter of the work.
HALF = LocalisationConfig(in_size=(16, 110))
# The presets by name, for configuration files: ``SpatialTransformer("compact")``.
CONFIGS = {"table4": TABLE4, "half": HALF, "compact": COMPACT}

# Train the localisation net at this fraction of the recogniser's learning rate: a small change
# of theta moves every output pixel, so theta is far more sensitive than an ordinary weight.
LOCALISATION_LR_SCALE = 0.1


class LocalisationNet(Module):
    """Regresses the affine matrix theta from a gray image (Table 4).

    conv 8 → leaky ReLU → max pool 2 → conv 16 → leaky ReLU → conv 32 → leaky ReLU →
    FC 64 → leaky ReLU → dropout → FC 6, with the last layer initialised to the identity.

    Parameters
    ----------
    config : LocalisationConfig
    rng : numpy.random.Generator or int or None
        Seeds the initial weights and the dropout masks: one Generator, handed to every layer in
        turn (None: fresh entropy; see `minilpr.nn.init.default_rng`).

    Shapes: ``x : (N, 1, H, W)`` with ``(H, W) = config.in_size`` -> ``theta : (N, 2, 3)``.
    """

    def __init__(self, config: LocalisationConfig = TABLE4,
                 rng: np.random.Generator | int | None = None):
        super().__init__()
        rng = default_rng(rng)
        self.config = config
        slope = config.negative_slope
        layers: list[Module] = []
        c_in = 1
        for i, c in enumerate(config.channels):
            layers += [Conv2d(c_in, c, 3, padding=1, rng=rng), LeakyReLU(slope)]
            if i in config.pool_after:
                layers.append(MaxPool2d(2))
            c_in = c
        self.features = Sequential(*layers)
        self.regressor = Sequential(Flatten(), Linear(config.fc_in, config.hidden, rng=rng),
                                    LeakyReLU(slope), Dropout(config.dropout, rng=rng),
                                    Linear(config.hidden, 6, rng=rng))
        last = self.regressor[-1]
        last.weight.data[...] = 0
        last.bias.data[...] = IDENTITY_THETA.ravel()

    def forward(self, x: np.ndarray) -> np.ndarray:
        expected = (1, *self.config.in_size)
        if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[1:] != expected:
            raise ValueError(f"LocalisationNet: expected gray input (N, {expected[0]}, "
                             f"{expected[1]}, {expected[2]}), got shape "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        features = self.features.forward(x)  # (N, C_last, H', W')
        theta = self.regressor.forward(features).reshape(-1, 2, 3)  # (N, 2, 3)
        return self._keep_for_backward(theta, names="dtheta")

    def backward(self, dtheta: np.ndarray) -> np.ndarray:
        _, dtheta = self._take_for_backward(dtheta)
        dfeatures = self.regressor.backward(dtheta.reshape(-1, 6))  # (N, C_last, H', W')
        return self.features.backward(dfeatures)

    def extra_repr(self) -> str:
        return f"in_size={self.config.in_size}, fc_in={self.config.fc_in}"


def to_gray(x: np.ndarray) -> np.ndarray:
    """``(N, 1, H, W)`` gray of a ``(N, 1 or 3, H, W)`` image; RGB uses `GRAY_WEIGHTS`."""
    if x.shape[1] == 1:
        return x
    weights = GRAY_WEIGHTS.astype(x.dtype)
    return np.einsum("nchw,c->nhw", x, weights)[:, None]  # (N, 1, H, W)


def to_gray_backward(dgray: np.ndarray, channels: int) -> np.ndarray:
    """dL/dx of `to_gray`: each channel receives ``dgray`` times its weight."""
    if channels == 1:
        return dgray
    return dgray * GRAY_WEIGHTS.astype(dgray.dtype)[None, :, None, None]  # (N, 3, H, W)


class SpatialTransformer(Module):
    """Localisation net + affine grid + bilinear sampler, with a hand-written backward.

    The net localises on the gray version of the input; the sampler warps every channel.

    Parameters
    ----------
    config : LocalisationConfig or str
        The localisation net's sizes: `TABLE4` (default), `HALF`, `COMPACT`, their names
        ``"table4"``, ``"half"``, ``"compact"``, or any `LocalisationConfig`. An input of
        another size than ``config.in_size`` is resized (gray, bilinear) before the net sees it.
    in_channels : int
        1 (gray) or 3 (RGB).
    out_size : (H_out, W_out) or None
        Size of the corrected image; default: the input's.
    align_corners : bool
        The corner convention of `minilpr.nn.spatial`.
    rng : numpy.random.Generator or int or None
        Passed to `LocalisationNet`, which threads one Generator through all its layers.

    Shapes: ``x : (N, C, H, W)`` -> ``out : (N, C, H_out, W_out)``.

    Attributes
    ----------
    localisation : LocalisationNet
    theta : (N, 2, 3) ndarray or None
        The matrices of the last forward, for inspection (the lesson draws them).
    grid : (N, H_out, W_out, 2) ndarray or None
        The sampling grid of the last forward.

    Notes
    -----
    Training: ``backward(dout)`` returns ``dx : (N, C, H, W)`` and accumulates into every
    parameter's ``.grad``. Give the STN its own optimizer at `LOCALISATION_LR_SCALE` (0.1)
    times the recogniser's learning rate, and leave it unstepped (frozen at the identity) for
    the recogniser's first epochs (lesson 07, section 7)::

        stn_opt = Adam(stn.parameters(), lr=LOCALISATION_LR_SCALE * lr)
        rec_opt = Adam(recogniser.parameters(), lr=lr)
    """

    def __init__(self, config: LocalisationConfig | str = TABLE4, in_channels: int = 1,
                 out_size: tuple[int, int] | None = None, align_corners: bool = False,
                 rng: np.random.Generator | int | None = None):
        super().__init__()
        if isinstance(config, str):
            if config not in CONFIGS:
                raise ValueError(f"SpatialTransformer: unknown config {config!r}; choose from "
                                 f"{', '.join(CONFIGS)} or pass a LocalisationConfig")
            config = CONFIGS[config]
        if in_channels not in (1, 3):
            raise ValueError(f"SpatialTransformer: in_channels must be 1 (gray) or 3 (RGB), "
                             f"got {in_channels}")
        self.in_channels = in_channels
        self.out_size = None if out_size is None else tuple(out_size)
        self.align_corners = align_corners
        self.localisation = LocalisationNet(config, rng)
        self.theta = None
        self.grid = None

    def localise(self, x: np.ndarray) -> np.ndarray:
        """``theta : (N, 2, 3)`` for a batch: where the STN would look, without warping.

        A forward of the localisation net alone: in training mode its dropout is applied,
        so call ``.eval()`` first for the theta that inference would use.
        """
        self._check_input(x)
        return self.localisation.forward(self._fit(to_gray(x))[0])

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x)
        N, C, H, W = x.shape
        seen, fit_cache = self._fit(to_gray(x))  # (N, 1, *config.in_size)
        theta = self.localisation.forward(seen)  # (N, 2, 3)
        out_h, out_w = self.out_size or (H, W)
        grid, grid_cache = affine_grid_forward(theta, (N, C, out_h, out_w), self.align_corners)
        out, sample_cache = grid_sample_forward(x, grid, self.align_corners)
        self.theta, self.grid = theta, grid
        return self._keep_for_backward(out, (grid_cache, sample_cache, fit_cache, C))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        (grid_cache, sample_cache, fit_cache, C), dout = self._take_for_backward(dout)
        dx_sampled, dgrid = grid_sample_backward(dout, sample_cache)
        dtheta = affine_grid_backward(dgrid, grid_cache)  # (N, 2, 3)
        dseen = self.localisation.backward(dtheta)  # (N, 1, *config.in_size)
        dgray = dseen if fit_cache is None else grid_sample_backward(dseen, fit_cache)[0]
        # The image reaches the output twice: sampled directly, and through theta.
        return dx_sampled + to_gray_backward(dgray, C)

    def _fit(self, gray: np.ndarray):
        """Resize the gray batch to the localisation net's input size, if it differs.

        The resize is the sampler with the identity grid at the new size (align_corners=False
        halves a size by averaging 2×2 blocks exactly); returns ``(resized, cache or None)``.
        """
        size = self.localisation.config.in_size
        if gray.shape[2:] == tuple(size):
            return gray, None
        identity = np.broadcast_to(IDENTITY_THETA.astype(gray.dtype), (len(gray), 2, 3))
        grid = affine_grid(identity, (len(gray), 1, *size))
        return grid_sample_forward(gray, grid)

    def _check_input(self, x: np.ndarray) -> None:
        if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"SpatialTransformer: expected (N, {self.in_channels}, H, W) input, "
                             f"got shape {getattr(x, 'shape', type(x).__name__)}")
        self._check_dtype(x, self.localisation.regressor[-1].weight.data.dtype)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_size={self.out_size}, "
                f"align_corners={self.align_corners}")


def pixel_theta(matrix, shift=(0.0, 0.0), size=(32, 220)) -> np.ndarray:
    """Express a warp given in pixels as a normalised ``theta``.

    Parameters
    ----------
    matrix : (2, 2) array-like
        Maps an output point to the input point it samples, in pixels measured from the image
        centre (x right, y down).
    shift : (dx, dy)
        Added to the sampled point, in pixels.
    size : (H, W)
        The image size; normalised coordinates stretch x by W/2 and y by H/2.

    Returns
    -------
    theta : (2, 3) float64
        ``S⁻¹ matrix S`` and ``S⁻¹ shift`` with ``S = diag(W/2, H/2)``, so that the warp is a
        true rotation/shear in pixels even on a 32 × 220 plate.
    """
    H, W = size
    s = np.array([W / 2, H / 2])
    theta = np.empty((2, 3))
    theta[:, :2] = np.asarray(matrix, float) * s[None, :] / s[:, None]
    theta[:, 2] = np.asarray(shift, float) / s
    return theta


def tilt_theta(angle: float = 0.0, shear: float = 0.0, scale: float = 1.0,
               shift=(0.0, 0.0), size=(32, 220)) -> np.ndarray:
    """The ``theta`` that makes the content look rotated, sheared, scaled and shifted.

    Parameters
    ----------
    angle : float
        Degrees, anticlockwise on screen.
    shear : float
        Horizontal shear: a row ``v`` pixels below the centre moves ``shear * v`` to the right.
    scale : float
        > 1 enlarges the content.
    shift : (dx, dy)
        Pixels right and down.
    size : (H, W)

    Returns
    -------
    theta : (2, 3) float64
        The sampler needs output -> input, the inverse of the content's motion
        ``p -> scale * R(angle) @ Shear(shear) @ p + shift``.
    """
    a = math.radians(angle)
    # On screen y points down, so an anticlockwise turn is [[cos, sin], [-sin, cos]].
    rotate = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    motion = scale * rotate @ np.array([[1.0, shear], [0.0, 1.0]])
    inverse = np.linalg.inv(motion)
    return pixel_theta(inverse, -inverse @ np.asarray(shift, float), size)


def invert_theta(theta: np.ndarray) -> np.ndarray:
    """The affine map that undoes ``theta``: ``(..., 2, 3) -> (..., 2, 3)``.

    Warping by ``theta`` and then by ``invert_theta(theta)`` returns the original (where the
    first warp kept the pixels inside the image).
    """
    theta = np.asarray(theta)
    linear = np.linalg.inv(theta[..., :2])  # (..., 2, 2)
    shift = -np.einsum("...ij,...j->...i", linear, theta[..., 2])  # (..., 2)
    return np.concatenate([linear, shift[..., None]], axis=-1)


def warp(x: np.ndarray, theta, out_size=None, align_corners: bool = False) -> np.ndarray:
    """Warp a batch by a known ``theta`` — to make tilted test plates, or to apply an STN's.

    Parameters
    ----------
    x : (N, C, H, W) float
    theta : (2, 3) or (N, 2, 3) array-like
        One matrix for the whole batch, or one per image.
    out_size : (H_out, W_out) or None
        Default: the input's size.

    Returns
    -------
    (N, C, H_out, W_out), same dtype as ``x``
    """
    N, C, H, W = x.shape
    thetas = np.broadcast_to(np.asarray(theta, x.dtype), (N, 2, 3)).copy()
    size = (N, C, *(out_size or (H, W)))
    return grid_sample(x, affine_grid(thetas, size, align_corners), align_corners)
