"""``minilpr bench locator`` runs end to end; its PyTorch twin computes what minilpr computes."""

import json
import subprocess
import sys

import numpy as np
import pytest

from minilpr.bench import locator
from minilpr.models.locator_weights import build_locator

TOY = ["--backbone", "tiny", "--size", "64", "--batch", "2", "--repeat", "1", "--json"]


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.splitlines()[-1])


def test_json_reports_the_rates_the_twin_and_the_ratios(capsys):
    pytest.importorskip("torch")
    assert locator.main(TOY + ["--profile"]) == 0
    result = _last_json(capsys)
    for key in ("infer_ms", "infer_images_per_s", "train_images_per_s", "yolo_loss_ms",
                "torch_infer_ms", "torch_infer_images_per_s", "torch_train_images_per_s",
                "infer_ms_ratio", "infer_time_ratio", "train_time_ratio"):
        assert result[key] > 0, key
    assert result["max_abs_diff"] < 1e-3 * max(1.0, result["max_abs_output"])
    assert result["backbone"] == "tiny" and result["size"] == 64 and result["batch"] == 2
    assert result["blas_info"]["internal_api"] and "kernel" in result["blas"]
    kinds = {kind for kind, _, _ in result["profile_ms"].values()}
    assert {"conv 3×3 s1", "conv 3×3 s2", "conv 1×1 s1", "batch norm", "upsample",
            "concat"} <= kinds


def test_without_torch_the_twin_is_left_out(capsys):
    assert locator.main(TOY + ["--no-torch"]) == 0
    result = _last_json(capsys)
    assert result["infer_ms"] > 0 and result["train_images_per_s"] > 0
    assert "torch_infer_ms" not in result and "train_time_ratio" not in result


@pytest.mark.parametrize("argv, message", [(["--size", "100"], "multiple of 32"),
                                           (["--batch", "0"], "--batch: must be at least 1")])
def test_bad_arguments_are_refused_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit):
        locator.main(argv)
    assert message in capsys.readouterr().err


def test_the_twin_matches_minilpr_in_both_modes_and_backward():
    torch = pytest.importorskip("torch")
    from minilpr.bench._twins import torch_locator_twin_of

    model = build_locator("tiny", seed=3).astype(np.float64)
    twin = torch_locator_twin_of(model)
    assert twin.backbone.stem[0].weight.dtype == torch.float64
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (2, 3, 64, 96))
    for training in (True, False):
        model.train(training)
        twin.train(training)
        ours = model.forward(x)
        xt = torch.tensor(x, requires_grad=True)
        theirs = twin(xt)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-9, atol=1e-10)
    douts = [rng.standard_normal(o.shape) for o in ours]
    torch.autograd.backward(theirs, [torch.tensor(d) for d in douts])
    np.testing.assert_allclose(model.backward(douts), xt.grad.numpy(), rtol=1e-8, atol=1e-12)
    grads = dict(twin.named_parameters())
    for name, param in model.named_parameters():
        np.testing.assert_allclose(param.grad, grads[name].grad.numpy(), rtol=1e-7, atol=1e-10,
                                   err_msg=name)


def test_the_profile_restores_the_layers():
    model = build_locator("tiny", seed=0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (1, 3, 64, 64)).astype(np.float32)
    douts = locator._upstream(model, x, rng)
    profile = locator.profile_layers(model, x, douts, repeat=1)
    assert profile["total"] > 0 and min(profile["copies"]) > 0
    assert all("forward" not in vars(m) for _, m in model.named_modules())
    import minilpr.nn.conv as conv_module
    from minilpr.nn.kernels import conv as kernels
    assert conv_module.im2col_kernel is kernels.im2col_kernel


def test_the_bench_does_not_import_torch():
    code = ("import sys, minilpr.bench.locator, minilpr.bench._twins, minilpr.models.locator; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
