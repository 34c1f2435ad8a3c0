"""The patent's recogniser: a residual CNN reads the plate, two BiLSTMs read its columns, CTC.

The network of US 12,387,506 B2, Tables 1–3 and FIG. 4, for a gray 1 × 32 × 220 crop (shapes
per sample, C × H × W; ``w`` is the width multiplier, 1 for the patent)::

    [STN]                  optional tilt correction (Table 4)       1 × 32 × 220
    conv1 64w 3×3 p1       → BN → leaky ReLU                         64w × 32 × 220
    res1  (Table 2)        → leaky ReLU                              256w × 8 × 110
    res2  (Table 3)        → BN → leaky ReLU                         1024w × 2 × 55
    conv2 512w 1×1         → leaky ReLU                              512w × 2 × 55
    conv3 1024w 3×3 p1     → leaky ReLU                              1024w × 2 × 55
    max pool 2×2 / 2                                                 1024w × 1 × 27
    ToSequence             each of the 27 columns is one time step   (T = 27, 1024w)
    BiLSTM(512w) × 2       forward and reverse halves concatenated   (27, 1024w)
    FC 1024w → dropout → FC K                                        (27, K)

Why 27 columns: along the width only three layers have a stride, and each halves it —
220 → 110 in Residual-1 (its max pool, and its shortcut's stride 2), 110 → 55 in Residual-2,
55 → 27 in the last max pool. The height is divided by 32 (pool 2 and stride 2 in each block,
then the last pool: 32 → 8 → 2 → 1), so one column of the final map sees the plate's whole
height and a band of its width: 27 frames for at most 8 characters leaves CTC room for the
blanks between repeated characters. Output size of a convolution or pooling along one axis:
``out = (in + 2·pad − kernel) // stride + 1``.

Reading of the patent's text where the tables are silent:

* Between the two FC layers the text names only a dropout layer ("the first fully-connected
  layer, the dropout layer connected to the first fully-connected layer, and the second
  fully-connected layer"), no activation — unlike Table 4, which lists a leaky ReLU after the
  localisation net's first FC layer. ``fc_activation=False`` (the default, all presets) builds
  it literally: FC → dropout → FC. Without a nonlinearity the two are one linear map of rank
  ≤ 1024w at inference (dropout only regularises in training); ``fc_activation=True`` inserts a
  leaky ReLU before each dropout, as Table 4 does.
* The text calls the first convolution "a 1*1 convolutional layer, P=1×1"; Table 1 says
  K = 3, P = 1. Table 1 wins (a 3×3 kernel with padding 1 keeps the size).
* Table 2 lists Convolution5 (stride 4×2) after Convolution4; FIG. 3 and the text make it the
  second branch from the block's input, the shortcut. `ResidualBlock` builds it so.
* The number of classes: the patent's example is 66; minilpr's charset has K = 71 (the CTC
  blank, 31 provinces, 24 letters, 10 digits, 5 specials; `minilpr.data.charset`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from minilpr.data.charset import NUM_CLASSES
from minilpr.models.stn import CONFIGS as STN_CONFIGS
from minilpr.models.stn import SpatialTransformer
from minilpr.nn.activation import LeakyReLU
from minilpr.nn.conv import Conv2d, conv_output_size
from minilpr.nn.dropout import Dropout
from minilpr.nn.init import default_rng
from minilpr.nn.linear import Linear
from minilpr.nn.module import Module, Parameter, Sequential
from minilpr.nn.norm import BatchNorm2d
from minilpr.nn.pool import MaxPool2d
from minilpr.nn.recurrent import LSTM
from minilpr.nn.shape import Add, ToSequence

# The presets by name: the patent's widths, every width ÷ 4, every width ÷ 8.
PRESETS = {"patent": 1.0, "small": 0.25, "tiny": 0.125}

# Filters of the patent's layers at width 1 (Tables 1-3).
CONV1 = 64
RES1 = (128, 64, 128, 256)
RES2 = (512, 256, 512, 1024)
CONV2, CONV3 = 512, 1024
LSTM_HIDDEN, FC_WIDTH = 512, 1024


def scaled(filters: int, width: float) -> int:
    """``filters × width`` rounded, at least 1: a layer's width at a width multiplier."""
    return max(1, int(round(filters * width)))


@dataclass(frozen=True)
class RecognizerConfig:
    """Everything that defines a recogniser's shape; saved with every checkpoint and weight file.

    Attributes
    ----------
    preset : str
        A name for the record ("patent", "small", "tiny", or anything for a custom build).
    width : float
        Multiplies every convolution's filters: 1 is the patent, 1/4 `small`, 1/8 `tiny`.
    in_channels : int
        1 (gray, as the patent) or 3 (RGB).
    height, width_px : int
        The input size; the patent's is 32 × 220 (T = 27). Other sizes work where the CNN
        still ends at height 1 and both branches of each residual block agree (a width divisible
        by 4, e.g. 44 gives T = 5); the config refuses the first kind, the blocks the second.
    lstm_layers : int
        Stacked bidirectional LSTM layers (the patent: 2; Table 5 tries 1–3).
    lstm_hidden : int or None
        Hidden units per direction; None means ``512 × width``.
    fc : tuple of int or None
        Widths of the FC layers before the last one (to K): the patent's ``(1024,)``; ``()``
        is a single FC layer (Table 6 tries 1–3). None means ``(1024 × width,)``.
    fc_activation : bool
        A leaky ReLU after each of those FC layers (see the module docstring: the patent's text
        names none).
    dropout : float
        Drop probability after each of those FC layers.
    num_classes : int
        K, including the CTC blank; `minilpr.data.charset.NUM_CLASSES` (71).
    negative_slope : float
        Of every leaky ReLU.
    stn : str or None
        None, or a `SpatialTransformer` preset name: "table4", "half", "compact".
    forget_bias : float or None
        Initial forget-gate bias of the LSTMs (None: PyTorch's initialisation).
    """

    preset: str = "patent"
    width: float = 1.0
    in_channels: int = 1
    height: int = 32
    width_px: int = 220
    lstm_layers: int = 2
    lstm_hidden: int | None = None
    fc: tuple[int, ...] | None = None
    fc_activation: bool = False
    dropout: float = 0.5
    num_classes: int = NUM_CLASSES
    negative_slope: float = 0.01
    stn: str | None = None
    forget_bias: float | None = None

    def __post_init__(self):
        problem = self._problem()
        if problem:
            raise ValueError(f"RecognizerConfig: {problem}")
        if self.lstm_hidden is None:
            object.__setattr__(self, "lstm_hidden", scaled(LSTM_HIDDEN, self.width))
        object.__setattr__(self, "fc", (scaled(FC_WIDTH, self.width),) if self.fc is None
                           else tuple(int(f) for f in self.fc))
        h, w = self.feature_size
        if h != 1 or w < 1:
            raise ValueError(f"RecognizerConfig: an input of {self.height}×{self.width_px} ends "
                             f"the CNN at {h}×{w}, but the sequence needs height 1 (use "
                             "height 32)")

    def _problem(self) -> str | None:
        """The first invalid field, as a phrase, or None."""
        def positive_int(v):
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1

        if not isinstance(self.preset, str):
            return f"preset must be a string, got {self.preset!r}"
        if isinstance(self.width, bool) or not isinstance(self.width, (int, float)) \
                or not 0 < self.width <= 4:
            return f"width must be a number in (0, 4], got {self.width!r}"
        if self.in_channels not in (1, 3) or isinstance(self.in_channels, bool):
            return f"in_channels must be 1 (gray) or 3 (RGB), got {self.in_channels!r}"
        for name in ("height", "width_px", "lstm_layers", "num_classes"):
            if not positive_int(getattr(self, name)):
                return f"{name} must be a positive integer, got {getattr(self, name)!r}"
        if self.num_classes < 2:
            return f"num_classes must count the blank and at least one character, got " \
                   f"{self.num_classes}"
        if self.lstm_hidden is not None and not positive_int(self.lstm_hidden):
            return f"lstm_hidden must be a positive integer or None, got {self.lstm_hidden!r}"
        if self.fc is not None and (not isinstance(self.fc, (tuple, list))
                                    or not all(positive_int(f) for f in self.fc)):
            return f"fc must be a tuple of positive integers or None, got {self.fc!r}"
        if not isinstance(self.fc_activation, bool):
            return f"fc_activation must be true or false, got {self.fc_activation!r}"
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) \
                or not 0 <= self.dropout < 1:
            return f"dropout must be in [0, 1), got {self.dropout!r}"
        if isinstance(self.negative_slope, bool) \
                or not isinstance(self.negative_slope, (int, float)):
            return f"negative_slope must be a number, got {self.negative_slope!r}"
        if self.stn is not None and self.stn not in STN_CONFIGS:
            return f"stn must be None or one of {', '.join(STN_CONFIGS)}, got {self.stn!r}"
        if self.forget_bias is not None and (isinstance(self.forget_bias, bool)
                                             or not isinstance(self.forget_bias, (int, float))):
            return f"forget_bias must be a number or None, got {self.forget_bias!r}"
        return None

    @classmethod
    def preset_names(cls) -> list[str]:
        return list(PRESETS)

    @classmethod
    def preset(cls, name: str, **overrides) -> "RecognizerConfig":
        """The config of a named preset, ``"patent"``, ``"small"`` or ``"tiny"``, with overrides.

        ``RecognizerConfig.preset("tiny", stn="compact", lstm_hidden=16)``.
        """
        if name not in PRESETS:
            raise ValueError(f"RecognizerConfig: unknown preset {name!r}; choose from "
                             f"{', '.join(PRESETS)}")
        known = {f.name for f in dataclasses.fields(cls)} - {"preset"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"RecognizerConfig.preset: unknown field(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        return cls(preset=name, **{"width": PRESETS[name], **overrides})

    def to_dict(self) -> dict:
        """A JSON-ready dict (tuples become lists); `from_dict` reads it back."""
        d = dataclasses.asdict(self)
        d["fc"] = list(self.fc)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RecognizerConfig":
        """Read `to_dict`'s output, refusing unknown fields and invalid values in one line."""
        if not isinstance(d, dict):
            raise ValueError(f"RecognizerConfig.from_dict needs a dict, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"RecognizerConfig: unknown field(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        d = dict(d)
        if isinstance(d.get("fc"), list):
            d["fc"] = tuple(d["fc"])
        return cls(**d)

    @property
    def channels(self) -> dict:
        """Filters of every convolution at this width: conv1, res1 (4), res2 (4), conv2, conv3."""
        w = self.width
        return {"conv1": scaled(CONV1, w), "res1": tuple(scaled(f, w) for f in RES1),
                "res2": tuple(scaled(f, w) for f in RES2), "conv2": scaled(CONV2, w),
                "conv3": scaled(CONV3, w)}

    @property
    def feature_size(self) -> tuple[int, int]:
        """(H, W) of the CNN's last map: 1 × 27 for a 32 × 220 input.

        Each residual block's output is its shortcut's, a 3×3 stride (4, 2) pad 1 convolution;
        the last max pool halves both.
        """
        h, w = self.height, self.width_px
        for _ in range(2):
            h, w = conv_output_size(h, 3, 4, 1), conv_output_size(w, 3, 2, 1)
        return h // 2, w // 2

    @property
    def sequence_length(self) -> int:
        """T, the number of frames the CTC loss sees: 27 for a 220-pixel-wide plate."""
        return self.feature_size[1]


def _conv_block(c_in: int, filters: tuple[int, int, int, int], slope: float, rng):
    """The layers of one residual block's main branch and shortcut, by their table names."""
    f1, f2, f3, f4 = filters
    main = [("pool", MaxPool2d(2)),
            ("conv1", Conv2d(c_in, f1, 3, padding=1, rng=rng)), ("act1", LeakyReLU(slope)),
            ("conv2", Conv2d(f1, f2, 1, rng=rng)), ("act2", LeakyReLU(slope)),
            ("conv3", Conv2d(f2, f3, 3, stride=(2, 1), padding=1, rng=rng)),
            ("act3", LeakyReLU(slope)),
            ("conv4", Conv2d(f3, f4, 3, padding=1, rng=rng)), ("act4", LeakyReLU(slope))]
    shortcut = [("conv5", Conv2d(c_in, f4, 3, stride=(4, 2), padding=1, rng=rng)),
                ("act5", LeakyReLU(slope))]
    return main, shortcut


class ResidualBlock(Module):
    """The patent's residual network structure (Tables 2 and 3, FIG. 3).

    Two branches from the same input, added, then a leaky ReLU::

        main:      max pool 2×2/2 → conv1 f1 3×3 p1 → act → conv2 f2 1×1 → act
                   → conv3 f3 3×3 stride (2, 1) p1 → act → conv4 f4 3×3 p1 → act
        shortcut:  conv5 f4 3×3 stride (4, 2) p1 → act
        out = leaky_relu(main(x) + shortcut(x))

    Table 2 (Residual-1) has ``(f1, f2, f3, f4) = (128, 64, 128, 256)``, Table 3 (Residual-2)
    ``(512, 256, 512, 1024)``. The main branch divides the height by 4 (pool, then stride 2)
    and the width by 2 (pool); the shortcut's stride (4, 2) does the same in one step, so the
    two meet: ``H_out = (H + 2 − 3) // 4 + 1`` and ``W_out = (W + 2 − 3) // 2 + 1``, which
    equal ``H // 4`` and ``W // 2`` for the even sizes of the patent (32 × 220 → 8 × 110 →
    2 × 55). A size where they differ is refused at the add.

    Parameters
    ----------
    in_channels : int
        C.
    filters : (f1, f2, f3, f4)
    negative_slope : float
    rng : numpy.random.Generator or int or None

    Shapes: ``x : (N, C, H, W)`` -> ``out : (N, f4, H_out, W_out)``.

    Attributes
    ----------
    dx_main, dx_shortcut : ndarray or None
        After a backward, the two gradients that reached the block's input, one per branch;
        the returned ``dx`` is their sum (the lesson shows the two).
    """

    MAIN = ("pool", "conv1", "act1", "conv2", "act2", "conv3", "act3", "conv4", "act4")
    SHORTCUT = ("conv5", "act5")

    def __init__(self, in_channels: int, filters, negative_slope: float = 0.01, rng=None):
        super().__init__()
        rng = default_rng(rng)
        main, shortcut = _conv_block(in_channels, tuple(filters), negative_slope, rng)
        for name, layer in main + shortcut:
            setattr(self, name, layer)
        self.add = Add()
        self.act_out = LeakyReLU(negative_slope)
        self.in_channels, self.filters = in_channels, tuple(filters)
        self.dx_main = self.dx_shortcut = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        main = x
        for name in self.MAIN:
            main = getattr(self, name).forward(main)  # (N, f4, H_out, W_out) at the end
        shortcut = x
        for name in self.SHORTCUT:
            shortcut = getattr(self, name).forward(shortcut)  # (N, f4, H_out, W_out)
        if main.shape != shortcut.shape:
            raise ValueError(f"ResidualBlock: an input of {x.shape[2]}×{x.shape[3]} gives "
                             f"{main.shape[2]}×{main.shape[3]} on the main branch but "
                             f"{shortcut.shape[2]}×{shortcut.shape[3]} on the shortcut")
        return self._keep_for_backward(self.act_out.forward(self.add.forward(main, shortcut)))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        _, dout = self._take_for_backward(dout)
        dsum = self.act_out.backward(dout)
        dmain, dshortcut = self.add.backward(dsum)  # the sum passes dsum to both branches
        for name in reversed(self.MAIN):
            dmain = getattr(self, name).backward(dmain)
        for name in reversed(self.SHORTCUT):
            dshortcut = getattr(self, name).backward(dshortcut)
        self.dx_main, self.dx_shortcut = dmain, dshortcut
        # x fans out to both branches, so dL/dx is the sum of what each branch sends back.
        return dmain + dshortcut

    def extra_repr(self) -> str:
        return f"{self.in_channels}, filters={self.filters}"


class SummaryRow(NamedTuple):
    """One layer of `Recognizer.summary`; sizes per sample, without the batch axis."""

    name: str
    type: str
    filters: int | None
    kernel: tuple[int, int] | None
    stride: tuple[int, int] | None
    padding: tuple[int, int] | None
    output_shape: tuple[int, ...]


class Recognizer(Module):
    """The patent's recogniser: [STN] → CNN (Tables 1–3) → 2 × BiLSTM → FC → dropout → FC.

    Parameters
    ----------
    config : RecognizerConfig or str
        A config, or a preset name (``Recognizer("tiny")``).
    rng : numpy.random.Generator or int or None
        One generator threaded through every layer in order (STN first), so a seed fixes the
        whole model and no two layers share their draws. The dropout layers then share one
        generator spawned from it (``model.dropout_rng``) for their masks.

    Shapes
    ------
    x : (N, in_channels, height, width_px) float32, e.g. (N, 1, 32, 220)
    logits : (T, N, K), T = ``config.sequence_length`` (27), K = ``config.num_classes`` (71);
        time first, as `minilpr.nn.CTCLoss` and ``torch.nn.CTCLoss`` take them. No softmax:
        CTCLoss applies log-softmax itself, and decoders take ``log_softmax(logits)``.

    Attributes
    ----------
    stn : SpatialTransformer or None
    conv1, bn1, ..., conv3, pool, to_sequence, lstm, fc : the layers, named as in Table 1
        (``res1`` and ``res2`` are `ResidualBlock` s); parameter names follow PyTorch's dotted
        names (``res1.conv5.weight``, ``lstm.weight_ih_l0``, ``fc.0.bias``).

    Notes
    -----
    Train the localisation net at its own learning rate::

        rec_opt = Adam(model.recognizer_parameters(), lr=lr)
        stn_opt = Adam(model.stn.parameters(), lr=LOCALISATION_LR_SCALE * lr)
    """

    # The CNN of Table 1 in order (the leaky ReLUs are act*; act_res1 is the one after
    # Residual-1, which follows the block's own final leaky ReLU).
    CNN = ("conv1", "bn1", "act1", "res1", "act_res1", "res2", "bn2", "act2",
           "conv2", "act3", "conv3", "act4", "pool")

    def __init__(self, config: RecognizerConfig | str = "patent", rng=None):
        super().__init__()
        if isinstance(config, str):
            config = RecognizerConfig.preset(config)
        if not isinstance(config, RecognizerConfig):
            raise TypeError(f"Recognizer needs a RecognizerConfig or a preset name, got "
                            f"{type(config).__name__}")
        rng = default_rng(rng)
        self.config = config
        slope, ch = config.negative_slope, config.channels
        self.stn = (None if config.stn is None else
                    SpatialTransformer(config.stn, in_channels=config.in_channels, rng=rng))
        self.conv1 = Conv2d(config.in_channels, ch["conv1"], 3, padding=1, rng=rng)
        self.bn1 = BatchNorm2d(ch["conv1"])
        self.act1 = LeakyReLU(slope)
        self.res1 = ResidualBlock(ch["conv1"], ch["res1"], slope, rng)
        self.act_res1 = LeakyReLU(slope)
        self.res2 = ResidualBlock(ch["res1"][-1], ch["res2"], slope, rng)
        self.bn2 = BatchNorm2d(ch["res2"][-1])
        self.act2 = LeakyReLU(slope)
        self.conv2 = Conv2d(ch["res2"][-1], ch["conv2"], 1, rng=rng)
        self.act3 = LeakyReLU(slope)
        self.conv3 = Conv2d(ch["conv2"], ch["conv3"], 3, padding=1, rng=rng)
        self.act4 = LeakyReLU(slope)
        self.pool = MaxPool2d(2)
        self.to_sequence = ToSequence()
        self.lstm = LSTM(ch["conv3"], config.lstm_hidden, num_layers=config.lstm_layers,
                         bidirectional=True, forget_bias=config.forget_bias, rng=rng)
        fc: list[Module] = []
        width = 2 * config.lstm_hidden
        for f in config.fc:
            fc.append(Linear(width, f, rng=rng))
            if config.fc_activation:
                fc.append(LeakyReLU(slope))
            fc.append(Dropout(config.dropout, rng=rng))
            width = f
        fc.append(Linear(width, config.num_classes, rng=rng))
        self.fc = Sequential(*fc)
        # Every dropout (the head's and the STN's) draws its masks from one generator of its
        # own, spawned from rng: training never consumes the caller's generator, and a
        # checkpoint saves one state for all the masks.
        masks = rng.spawn(1)[0]
        for _, module in self.named_modules():
            if isinstance(module, Dropout):
                module.rng = masks
        self.dropout_rng = masks

    @property
    def sequence_length(self) -> int:
        """T: frames per plate in the logits (27 for 32 × 220)."""
        return self.config.sequence_length

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x : (N, C, H, W) -> logits : (T, N, K)``."""
        c = self.config
        expected = (c.in_channels, c.height, c.width_px)
        if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[1:] != expected:
            raise ValueError(f"Recognizer: expected input (N, {expected[0]}, {expected[1]}, "
                             f"{expected[2]}), got shape {getattr(x, 'shape', type(x).__name__)}")
        self._check_dtype(x, self.conv1.weight.data.dtype)
        if self.stn is not None:
            x = self.stn.forward(x)  # (N, C, H, W), straightened
        for name in self.CNN:
            x = getattr(self, name).forward(x)  # (N, 1024w, 1, 27) after the last pool
        seq = self.to_sequence.forward(x)  # (T=27, N, 1024w)
        seq, _ = self.lstm.forward(seq)  # (T, N, 2 * lstm_hidden)
        return self._keep_for_backward(self.fc.forward(seq))  # (T, N, K)

    def backward(self, dlogits: np.ndarray) -> np.ndarray:
        """``dlogits : (T, N, K) -> dx : (N, C, H, W)``; accumulates every parameter's grad."""
        _, dlogits = self._take_for_backward(dlogits)
        dseq = self.fc.backward(dlogits)  # (T, N, 2 * lstm_hidden)
        dseq = self.lstm.backward(dseq)  # (T, N, 1024w)
        dx = self.to_sequence.backward(dseq)  # (N, 1024w, 1, T)
        for name in reversed(self.CNN):
            dx = getattr(self, name).backward(dx)
        if self.stn is not None:
            dx = self.stn.backward(dx)
        return dx  # (N, C, H, W)

    def recognizer_parameters(self) -> list[Parameter]:
        """Every parameter except the STN's (those get their own optimizer)."""
        return [p for name, p in self.named_parameters() if not name.startswith("stn.")]

    def stn_parameters(self) -> list[Parameter]:
        """The localisation net's parameters; empty without an STN."""
        return [] if self.stn is None else self.stn.parameters()

    def num_parameters(self, include_stn: bool = True) -> int:
        params = self.parameters() if include_stn else self.recognizer_parameters()
        return sum(p.data.size for p in params)

    def summary(self) -> list[SummaryRow]:
        """Every layer in order with its type, filters, kernel, stride, padding, output shape.

        Computed from the layers' settings, without running the network; output shapes are
        per sample: ``(C, H, W)`` for feature maps, ``(T, D)`` for sequences. A residual block
        has one row of its own (its output) followed by rows for its layers, named
        ``res1.conv1`` and so on; the STN, if any, is one row.
        """
        c = self.config
        rows: list[SummaryRow] = []
        shape = (c.in_channels, c.height, c.width_px)
        rows.append(SummaryRow("input", "Input", c.in_channels, None, None, None, shape))
        if self.stn is not None:
            rows.append(SummaryRow("stn", "SpatialTransformer", None, None, None, None, shape))
        for name in self.CNN:
            layer = getattr(self, name)
            if isinstance(layer, ResidualBlock):
                inner = []
                main = shape
                for sub in layer.MAIN:
                    main = _layer_shape(getattr(layer, sub), main)
                    inner.append(_row(f"{name}.{sub}", getattr(layer, sub), main))
                short = shape
                for sub in layer.SHORTCUT:
                    short = _layer_shape(getattr(layer, sub), short)
                    inner.append(_row(f"{name}.{sub}", getattr(layer, sub), short))
                inner.append(_row(f"{name}.act_out", layer.act_out, main))
                rows.append(SummaryRow(name, "ResidualBlock", layer.filters[-1], None, None,
                                       None, main))
                rows.extend(inner)
                shape = main
            else:
                shape = _layer_shape(layer, shape)
                rows.append(_row(name, layer, shape))
        seq = (shape[2], shape[0])  # (T, C): the columns become time steps
        rows.append(SummaryRow("to_sequence", "ToSequence", None, None, None, None, seq))
        seq = (seq[0], 2 * c.lstm_hidden)
        for k in range(c.lstm_layers):
            rows.append(SummaryRow(f"lstm.l{k}", "BiLSTM", c.lstm_hidden, None, None, None, seq))
        for i, layer in enumerate(self.fc):
            if isinstance(layer, Linear):
                seq = (seq[0], layer.out_features)
                rows.append(SummaryRow(f"fc.{i}", "Linear", layer.out_features, None, None,
                                       None, seq))
            else:
                rows.append(_row(f"fc.{i}", layer, seq))
        return rows

    def extra_repr(self) -> str:
        return f"preset={self.config.preset!r}, width={self.config.width}, stn={self.config.stn}"


def _layer_shape(layer: Module, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """The per-sample output shape of a CNN layer from its settings."""
    C, H, W = shape
    if isinstance(layer, Conv2d):
        (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
        return (layer.out_channels, conv_output_size(H, kh, sh, ph),
                conv_output_size(W, kw, sw, pw))
    if isinstance(layer, MaxPool2d):
        (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
        return C, conv_output_size(H, kh, sh, ph), conv_output_size(W, kw, sw, pw)
    return shape


def _row(name: str, layer: Module, shape: tuple) -> SummaryRow:
    if isinstance(layer, Conv2d):
        return SummaryRow(name, "Conv2d", layer.out_channels, layer.kernel_size, layer.stride,
                          layer.padding, shape)
    if isinstance(layer, MaxPool2d):
        return SummaryRow(name, "MaxPool2d", None, layer.kernel_size, layer.stride,
                          layer.padding, shape)
    return SummaryRow(name, type(layer).__name__, None, None, None, None, shape)


def format_summary(rows: list[SummaryRow]) -> str:
    """`Recognizer.summary` as a Markdown table, for docs and lessons."""
    def cell(v):
        if v is None:
            return ""
        if isinstance(v, tuple):
            return "×".join(str(i) for i in v)
        return str(v)

    lines = ["| layer | type | filters | kernel | stride | padding | output |",
             "|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def receptive_field(model: Recognizer) -> tuple[tuple[int, int], tuple[int, int]]:
    """Size and step (in input pixels, (H, W)) of the window one output column sees.

    Follows the longest path (the main branch of each residual block, whose window contains
    the shortcut's); for a layer of kernel k and stride s, ``size += (k − 1) · step`` and then
    ``step *= s``.
    """
    size, step = [1, 1], [1, 1]

    def grow(layer):
        if isinstance(layer, (Conv2d, MaxPool2d)):
            for axis in range(2):
                size[axis] += (layer.kernel_size[axis] - 1) * step[axis]
                step[axis] *= layer.stride[axis]

    for name in Recognizer.CNN:
        layer = getattr(model, name)
        if isinstance(layer, ResidualBlock):
            for sub in ResidualBlock.MAIN:
                grow(getattr(layer, sub))
        else:
            grow(layer)
    return (size[0], size[1]), (step[0], step[1])
