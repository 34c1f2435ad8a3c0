"""The recogniser: the patent's Tables 1–3 layer by layer, presets, gradients, torch parity."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilpr.data.charset import NUM_CLASSES
from minilpr.models.recognizer import (Recognizer, RecognizerConfig, ResidualBlock,
                                       format_summary, receptive_field)
from minilpr.models.stn import IDENTITY_THETA, SpatialTransformer
from minilpr.nn import CTCLoss, Dropout, assert_gradcheck
from minilpr.nn.spatial import unnormalise
from tests.conftest import GRAD_TOL

# The patent's tables, written out by hand: (type, filters, kernel, stride, padding) per row,
# and the output (C, H, W) of a 1 × 32 × 220 input traced on paper with
# out = (in + 2·pad − kernel) // stride + 1.
TABLE1 = [  # name, type, filters, kernel, stride, padding, output
    ("conv1", "Conv2d", 64, 3, (1, 1), 1, (64, 32, 220)),
    ("bn1", "BatchNorm2d", None, None, None, None, (64, 32, 220)),
    ("act1", "LeakyReLU", None, None, None, None, (64, 32, 220)),
    ("res1", "ResidualBlock", 256, None, None, None, (256, 8, 110)),
    ("act_res1", "LeakyReLU", None, None, None, None, (256, 8, 110)),
    ("res2", "ResidualBlock", 1024, None, None, None, (1024, 2, 55)),
    ("bn2", "BatchNorm2d", None, None, None, None, (1024, 2, 55)),
    ("act2", "LeakyReLU", None, None, None, None, (1024, 2, 55)),
    ("conv2", "Conv2d", 512, 1, (1, 1), 0, (512, 2, 55)),
    ("act3", "LeakyReLU", None, None, None, None, (512, 2, 55)),
    ("conv3", "Conv2d", 1024, 3, (1, 1), 1, (1024, 2, 55)),
    ("act4", "LeakyReLU", None, None, None, None, (1024, 2, 55)),
    ("pool", "MaxPool2d", None, 2, (2, 2), 0, (1024, 1, 27)),
]
TABLE2 = [
    ("pool", "MaxPool2d", None, 2, (2, 2), 0, (64, 16, 110)),
    ("conv1", "Conv2d", 128, 3, (1, 1), 1, (128, 16, 110)),
    ("act1", "LeakyReLU", None, None, None, None, (128, 16, 110)),
    ("conv2", "Conv2d", 64, 1, (1, 1), 0, (64, 16, 110)),
    ("act2", "LeakyReLU", None, None, None, None, (64, 16, 110)),
    ("conv3", "Conv2d", 128, 3, (2, 1), 1, (128, 8, 110)),
    ("act3", "LeakyReLU", None, None, None, None, (128, 8, 110)),
    ("conv4", "Conv2d", 256, 3, (1, 1), 1, (256, 8, 110)),
    ("act4", "LeakyReLU", None, None, None, None, (256, 8, 110)),
    ("conv5", "Conv2d", 256, 3, (4, 2), 1, (256, 8, 110)),  # the shortcut, from the input
    ("act5", "LeakyReLU", None, None, None, None, (256, 8, 110)),
    ("act_out", "LeakyReLU", None, None, None, None, (256, 8, 110)),  # after the sum
]
TABLE3 = [
    ("pool", "MaxPool2d", None, 2, (2, 2), 0, (256, 4, 55)),
    ("conv1", "Conv2d", 512, 3, (1, 1), 1, (512, 4, 55)),
    ("act1", "LeakyReLU", None, None, None, None, (512, 4, 55)),
    ("conv2", "Conv2d", 256, 1, (1, 1), 0, (256, 4, 55)),
    ("act2", "LeakyReLU", None, None, None, None, (256, 4, 55)),
    ("conv3", "Conv2d", 512, 3, (2, 1), 1, (512, 2, 55)),
    ("act3", "LeakyReLU", None, None, None, None, (512, 2, 55)),
    ("conv4", "Conv2d", 1024, 3, (1, 1), 1, (1024, 2, 55)),
    ("act4", "LeakyReLU", None, None, None, None, (1024, 2, 55)),
    ("conv5", "Conv2d", 1024, 3, (4, 2), 1, (1024, 2, 55)),
    ("act5", "LeakyReLU", None, None, None, None, (1024, 2, 55)),
    ("act_out", "LeakyReLU", None, None, None, None, (1024, 2, 55)),
]


@pytest.fixture(scope="module")
def patent():
    return Recognizer("patent", rng=0)


def expected_row(name, kind, filters, k, stride, pad, out):
    pair = (lambda v: None if v is None else (v, v))
    return (name, kind, filters, pair(k), stride, pair(pad), out)


def test_patent_preset_is_tables_1_to_3_layer_by_layer(patent):
    rows = {row.name: tuple(row) for row in patent.summary()}
    for table, prefix in ((TABLE1, ""), (TABLE2, "res1."), (TABLE3, "res2.")):
        for name, *rest in table:
            assert rows[prefix + name] == expected_row(prefix + name, *rest), prefix + name
    cnn = [row.name for row in patent.summary() if "." not in row.name][1:14]
    assert cnn == [row[0] for row in TABLE1]  # and in the order of Table 1
    assert rows["to_sequence"][-1] == (27, 1024)
    assert [rows[n][1:3] for n in ("lstm.l0", "lstm.l1")] == [("BiLSTM", 512)] * 2
    assert rows["lstm.l1"][-1] == (27, 1024)
    assert [rows[f"fc.{i}"][1:3] for i in range(3)] == [("Linear", 1024), ("Dropout", None),
                                                        ("Linear", NUM_CLASSES)]
    assert rows["fc.2"][-1] == (27, NUM_CLASSES)
    assert "| res1.conv5 | Conv2d | 256 | 3×3 | 4×2 | 1×1 | 256×8×110 |" in \
        format_summary(patent.summary())


def test_patent_output_is_27_frames_of_the_classes(patent):
    patent.eval()
    x = np.random.default_rng(0).uniform(0, 1, (1, 1, 32, 220)).astype(np.float32)
    logits = patent.forward(x)
    assert logits.shape == (27, 1, NUM_CLASSES) and logits.dtype == np.float32
    assert patent.sequence_length == 27
    patent.train()


def independent_parameter_count(K=NUM_CLASSES) -> int:
    """Parameters counted from the tables: conv F·C·k² + F, BN 2C, LSTM, FC."""
    total, c_in = 0, 1
    for table, prefix in ((TABLE1[:3], ""), (TABLE2, "res1"), (TABLE3, "res2"), (TABLE1[6:], "")):
        block_in = c_in
        for name, kind, filters, k, _, _, _ in table:
            if kind == "Conv2d":
                src = block_in if name == "conv5" and prefix else c_in
                total += filters * src * k * k + filters
                if name != "conv5":
                    c_in = filters
            elif kind == "BatchNorm2d":
                total += 2 * c_in
    assert c_in == 1024
    H, d_in = 512, 1024
    for _ in range(2):  # two BiLSTM layers: two directions of W_ih, W_hh, b_ih, b_hh
        total += 2 * (4 * H * d_in + 4 * H * H + 2 * 4 * H)
        d_in = 2 * H
    total += (1024 * 1024 + 1024) + (1024 * K + K)
    return total


def test_patent_parameter_count_matches_the_tables(patent):
    assert patent.num_parameters() == patent.num_parameters(include_stn=False)
    assert patent.num_parameters() == independent_parameter_count() == 29_139_335


@pytest.mark.parametrize("name, divisor", [("patent", 1), ("small", 4), ("tiny", 8)])
def test_presets_divide_every_width(name, divisor):
    config = RecognizerConfig.preset(name)
    assert config.channels == {"conv1": 64 // divisor,
                               "res1": tuple(f // divisor for f in (128, 64, 128, 256)),
                               "res2": tuple(f // divisor for f in (512, 256, 512, 1024)),
                               "conv2": 512 // divisor, "conv3": 1024 // divisor}
    assert config.lstm_hidden == 512 // divisor and config.fc == (1024 // divisor,)
    assert config.sequence_length == 27
    model = Recognizer(config)
    assert model.lstm.input_size == 1024 // divisor and model.fc[0].in_features == 1024 // divisor


def test_tiny_forward_shapes_agree_with_the_summary(rng):
    model = Recognizer("tiny", rng=1)
    x = rng.uniform(0, 1, (3, 1, 32, 220)).astype(np.float32)
    logits = model.forward(x)
    assert logits.shape == (27, 3, NUM_CLASSES)
    rows = {row.name: row for row in model.summary()}
    assert rows["fc.2"].output_shape == logits.shape[::2]
    dx = model.backward(rng.standard_normal(logits.shape).astype(np.float32))
    assert dx.shape == x.shape and dx.dtype == np.float32
    assert all(np.abs(p.grad).sum() > 0 for name, p in model.named_parameters()
               if not name.startswith("bn1.") and name != "conv1.bias")  # BN cancels that bias


def test_overrides_and_table_5_6_knobs():
    config = RecognizerConfig.preset("tiny", lstm_layers=3, lstm_hidden=20, fc=(30, 40),
                                     fc_activation=True, stn="half")
    model = Recognizer(config)
    assert model.lstm.num_layers == 3 and model.lstm.hidden_size == 20
    assert [type(m).__name__ for m in model.fc] == ["Linear", "LeakyReLU", "Dropout", "Linear",
                                                    "LeakyReLU", "Dropout", "Linear"]
    assert isinstance(model.stn, SpatialTransformer)
    single = Recognizer(RecognizerConfig.preset("tiny", fc=()))
    assert [type(m).__name__ for m in single.fc] == ["Linear"]
    assert single.fc[0].in_features == 2 * 64
    assert RecognizerConfig.preset("patent", width=0.5).channels["conv3"] == 512


def test_config_round_trips_through_json():
    config = RecognizerConfig.preset("small", stn="compact", fc=(100,), dropout=0.25)
    again = RecognizerConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.fc == (100,)


@pytest.mark.parametrize("change, message", [
    ({"colour": 1}, "unknown field\\(s\\) colour; known: "),
    ({"width": 0}, "width must be a number in \\(0, 4\\]"),
    ({"in_channels": 2}, "in_channels must be 1 \\(gray\\) or 3"),
    ({"lstm_hidden": -3}, "lstm_hidden must be a positive integer"),
    ({"fc": [10, "a"]}, "fc must be a tuple of positive integers"),
    ({"dropout": 1.0}, "dropout must be in \\[0, 1\\)"),
    ({"stn": "tps"}, "stn must be None or one of table4, half, compact"),
    ({"height": 64}, "ends the CNN at 2×27, but the sequence needs height 1"),
    ({"num_classes": True}, "num_classes must be a positive integer"),
])
def test_config_refuses_bad_fields_in_one_line(change, message):
    d = RecognizerConfig.preset("tiny").to_dict()
    d.update(change)
    with pytest.raises(ValueError, match=message) as info:
        RecognizerConfig.from_dict(d)
    assert "\n" not in str(info.value)


def test_unknown_preset_and_override_are_refused():
    with pytest.raises(ValueError, match="unknown preset 'huge'; choose from patent, small"):
        RecognizerConfig.preset("huge")
    with pytest.raises(ValueError, match="unknown field\\(s\\) hidden"):
        RecognizerConfig.preset("tiny", hidden=3)


def test_bad_input_is_refused_with_its_shape():
    model = Recognizer("tiny")
    with pytest.raises(ValueError, match="expected input \\(N, 1, 32, 220\\), got shape "
                                         "\\(2, 1, 32, 200\\)"):
        model.forward(np.zeros((2, 1, 32, 200), np.float32))
    with pytest.raises(TypeError, match="float64 input but computes in float32"):
        model.forward(np.zeros((2, 1, 32, 220)))


def test_same_seed_same_weights_and_no_two_layers_alike():
    a, b, c = Recognizer("tiny", rng=5), Recognizer("tiny", rng=5), Recognizer("tiny", rng=6)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)
    assert not np.array_equal(sa["conv3.weight"], sc["conv3.weight"])
    # One generator runs through the layers, so same-shaped tensors do not repeat draws.
    assert not np.array_equal(sa["lstm.weight_hh_l0"], sa["lstm.weight_hh_l0_reverse"])
    assert sa["res1.conv1.bias"].shape == sa["res1.conv3.bias"].shape
    assert not np.array_equal(sa["res1.conv1.bias"], sa["res1.conv3.bias"])


def test_recognizer_parameters_leave_out_the_stn():
    model = Recognizer(RecognizerConfig.preset("tiny", stn="compact"))
    ours = {id(p) for p in model.recognizer_parameters()}
    stn = {id(p) for p in model.stn_parameters()}
    assert stn and not ours & stn and ours | stn == {id(p) for p in model.parameters()}
    assert model.stn_parameters() == model.stn.parameters()
    assert Recognizer("tiny").stn is None and Recognizer("tiny").stn_parameters() == []


def test_receptive_field_covers_the_plate_height_and_steps_eight_pixels():
    size, step = receptive_field(Recognizer("tiny"))
    assert step == (32, 8)  # H: 2·2·2·2·2; W: 2 (res1 pool) · 2 (res2 pool) · 2 (last pool)
    assert size[0] >= 32 and size[1] == 54



heights = st.integers(1, 3).flatmap(lambda k: st.sampled_from([4 * k, 4 * k + 2, 4 * k + 3]))


@settings(max_examples=10)
@given(N=st.integers(1, 2), C=st.integers(1, 3), H=heights, W=st.sampled_from([2, 4, 6]),
       seed=st.integers(0, 2**16))
def test_residual_block_gradcheck(N, C, H, W, seed):
    rng = np.random.default_rng(seed)
    block = ResidualBlock(C, (3, 2, 3, 4), negative_slope=0.1, rng=rng)
    x = rng.standard_normal((N, C, H, W))
    assert_gradcheck(block, x, tol=GRAD_TOL)


def test_residual_block_input_gradient_is_the_sum_of_its_branches(rng):
    block = ResidualBlock(2, (3, 2, 3, 4), rng=rng)
    x = rng.standard_normal((2, 2, 8, 6)).astype(np.float32)
    out = block.forward(x)
    assert out.shape == (2, 4, 2, 3)
    dx = block.backward(rng.standard_normal(out.shape).astype(np.float32))
    assert block.dx_main.shape == block.dx_shortcut.shape == x.shape
    np.testing.assert_array_equal(dx, block.dx_main + block.dx_shortcut)
    assert np.abs(block.dx_main).sum() > 0 and np.abs(block.dx_shortcut).sum() > 0


def test_residual_block_refuses_sizes_where_the_branches_disagree():
    block = ResidualBlock(1, (2, 2, 2, 2))
    with pytest.raises(ValueError, match="5×6 gives 1×3 on the main branch but 2×3 on the "
                                         "shortcut"):
        block.forward(np.zeros((1, 1, 5, 6), np.float32))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        ResidualBlock(1, (2, 2, 2, 2)).backward(np.zeros((1, 2, 1, 3), np.float32))



def perturb_stn(model, rng):
    """Move the STN off the identity, and its last layer off zero so every weight gets a gradient."""
    last = model.stn.localisation.regressor[-1]
    last.weight.data[...] = 0.05 * rng.standard_normal(last.weight.shape)
    last.bias.data[...] = IDENTITY_THETA.ravel() + 0.05 * rng.standard_normal(6)


def off_kinks(model, x, rng):
    """`perturb_stn` until no sample sits within 1e-4 px of a pixel centre.

    At the identity every sample lands on a pixel centre, where bilinear sampling has a kink
    that centred differences cannot cross; a step of 1e-6 in a weight moves a sample by about
    1e-5 px. The dropout masks are replayed for every try, as gradcheck replays them.
    """
    generators = [m.rng for _, m in model.named_modules() if isinstance(m, Dropout)]
    states = [g.bit_generator.state for g in generators]
    H, W = x.shape[2:]
    while True:
        perturb_stn(model, rng)
        for g, s in zip(generators, states):
            g.bit_generator.state = s
        model.stn.forward(x)
        ix, iy = unnormalise(model.stn.grid[..., 0], W), unnormalise(model.stn.grid[..., 1], H)
        if min(np.abs(ix - np.round(ix)).min(), np.abs(iy - np.round(iy)).min()) > 1e-4:
            break
    for g, s in zip(generators, states):
        g.bit_generator.state = s


def smooth_images(rng, N, H, W):
    """Gray images of a few slow waves around 0.5, (N, 1, H, W) float64.

    A kink (leaky ReLU at 0, a max-pool tie, a bilinear sample on a pixel centre) that a
    finite-difference step crosses spoils that difference. A weight of the STN moves every
    sample at once, and so every activation downstream: on a noise image, whose pixels jump
    by ~0.5, some activation then always crosses a kink; on a smooth image the activations
    move far less. They still cross now and then: over eight seeds of this test, one put a
    CNN bias (which shifts a whole channel) across a kink (error 8e-3 on that tensor, all
    others below 5e-7). The seed below is one where nothing crosses; a failure after a change
    names the tensor — re-run with another seed before suspecting the backward of a layer
    whose own gradient check passes.
    """
    v, u = np.mgrid[0:H, 0:W]
    x = np.full((N, 1, H, W), 0.5)
    for n in range(N):
        for _ in range(4):
            a, b = rng.uniform(-1, 1, 2) * 2 * np.pi / 48
            x[n, 0] += 0.1 * np.sin(a * u + b * v + rng.uniform(0, 2 * np.pi))
    return x


@pytest.mark.slow
def test_tiny_model_with_stn_gradcheck():
    rng = np.random.default_rng(3)
    # The tiny CNN and the `half` STN on a narrower plate (T = 5) with a small head: every
    # layer of the model, checked in a few seconds.
    config = RecognizerConfig.preset("tiny", stn="half", width_px=44, lstm_hidden=6,
                                     fc=(8,), num_classes=5)
    model = Recognizer(config, rng=rng).astype(np.float64)
    x = smooth_images(rng, 1, 32, 44)
    off_kinks(model, x, rng)
    errors = assert_gradcheck(model, x, tol=GRAD_TOL, max_elements=3)
    assert len(errors) == 1 + len(model.parameters())


def ctc_batch(rng, N, T=27):
    lengths = rng.integers(7, 9, N)
    targets = np.zeros((N, 8), np.int64)
    for n, L in enumerate(lengths):
        targets[n, :L] = rng.integers(1, NUM_CLASSES, L)
    return targets, np.full(N, T), lengths


def test_tiny_model_matches_its_torch_twin_through_ctc():
    torch = pytest.importorskip("torch")
    from tests.models.twins import torch_twin_of

    rng = np.random.default_rng(4)
    model = Recognizer(RecognizerConfig.preset("tiny", stn="compact"), rng=rng)
    model.astype(np.float64)
    x = rng.uniform(0, 1, (3, 1, 32, 220))
    perturb_stn(model, rng)
    for _, m in model.named_modules():  # dropout masks cannot be shared with torch
        if isinstance(m, Dropout):
            m.eval()
    twin = torch_twin_of(model)
    for m in twin.modules():
        if isinstance(m, torch.nn.Dropout):
            m.eval()
    targets, input_lengths, target_lengths = ctc_batch(rng, 3)

    ctc = CTCLoss()
    logits = model.forward(x)
    loss = ctc.forward(logits, targets, input_lengths, target_lengths)
    dx = model.backward(ctc.backward())

    xt = torch.tensor(x, requires_grad=True)
    logits_t = twin(xt)
    loss_t = torch.nn.functional.ctc_loss(logits_t.log_softmax(-1), torch.tensor(targets),
                                          torch.tensor(input_lengths),
                                          torch.tensor(target_lengths))
    loss_t.backward()

    np.testing.assert_allclose(logits, logits_t.detach().numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(loss, loss_t.item(), rtol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-7, atol=1e-9 * np.abs(dx).max())
    torch_grads = dict(twin.named_parameters())
    names = [name for name, _ in model.named_parameters()]
    assert sorted(names) == sorted(torch_grads)
    for name, p in model.named_parameters():
        g = torch_grads[name].grad.numpy()
        np.testing.assert_allclose(p.grad, g, rtol=1e-7, atol=1e-9 * max(np.abs(g).max(), 1e-3),
                                   err_msg=name)
    assert np.abs(model.stn.localisation.features[0].weight.grad).max() > 0
    for name, buffer in twin.named_buffers():
        np.testing.assert_allclose(model.state_dict()[name], buffer.numpy(), rtol=1e-9,
                                   err_msg=name)


def test_dropout_masks_come_from_one_generator_of_their_own(rng):
    caller = np.random.default_rng(2)
    model = Recognizer(RecognizerConfig.preset("tiny", stn="compact"), rng=caller)
    dropouts = [m for _, m in model.named_modules() if isinstance(m, Dropout)]
    assert len(dropouts) == 2 and all(d.rng is model.dropout_rng for d in dropouts)
    state = caller.bit_generator.state
    model.forward(rng.uniform(0, 1, (1, 1, 32, 220)).astype(np.float32))
    assert caller.bit_generator.state == state  # training draws masks, not the caller's numbers


def test_backward_contract_of_the_block_and_the_model(rng):
    for module, shape in ((ResidualBlock(2, (3, 2, 3, 4), rng=0), (1, 2, 8, 6)),
                          (Recognizer("tiny", rng=0), (1, 1, 32, 220))):
        name = type(module).__name__
        x = rng.uniform(0, 1, shape).astype(np.float32)
        with pytest.raises(RuntimeError, match=f"{name}.backward called before forward"):
            module.backward(np.zeros((1,), np.float32))
        x_saved = x.copy()
        out = module.forward(x)
        with pytest.raises(ValueError, match=f"{name}.backward: dout has shape"):
            module.backward(np.zeros(out.shape[:-1], np.float32))
        module.forward(x)
        with pytest.raises(TypeError, match="dout is float64 but the forward's output was "
                                            "float32"):
            module.backward(np.zeros(out.shape))
        module.forward(x)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        dout_saved = dout.copy()
        dx = module.backward(dout)
        assert not np.shares_memory(dx, dout) and not np.shares_memory(dx, x)
        np.testing.assert_array_equal(dout, dout_saved)  # nothing written in place
        np.testing.assert_array_equal(x, x_saved)
        with pytest.raises(RuntimeError, match="called before forward \\(or twice"):
            module.backward(dout)
