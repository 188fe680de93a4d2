"""Device choice: CUDA float16 when a GPU is visible, CPU int8 otherwise, CPU on CUDA failure."""

from __future__ import annotations

import pytest

from services.asr.device import DeviceChoice, choose_device, load_with_fallback


def test_auto_picks_cuda_float16_when_a_gpu_is_visible():
    choice = choose_device("auto", "auto", cuda_count=lambda: 2)
    assert (choice.device, choice.compute_type) == ("cuda", "float16")


def test_auto_picks_cpu_int8_without_a_gpu():
    choice = choose_device("auto", "auto", cuda_count=lambda: 0)
    assert (choice.device, choice.compute_type) == ("cpu", "int8")


def test_an_explicit_compute_type_is_used_on_the_gpu():
    choice = choose_device("auto", "int8_float16", cuda_count=lambda: 1)
    assert choice.compute_type == "int8_float16"


def test_cuda_requested_without_a_gpu_degrades_to_cpu_with_the_cpu_compute_type():
    choice = choose_device("cuda", "float16", cuda_count=lambda: 0)
    assert (choice.device, choice.compute_type) == ("cpu", "int8")


def test_cpu_requested_never_asks_for_gpus():
    choice = choose_device("cpu", "float32", cuda_count=lambda: pytest.fail("queried CUDA"))
    assert (choice.device, choice.compute_type) == ("cpu", "float32")


def test_when_loading_on_cuda_fails_the_model_is_loaded_on_cpu():
    calls = []

    def factory(path, device, compute_type, **kw):
        calls.append((device, compute_type))
        if device == "cuda":
            raise RuntimeError("CUDA driver version is insufficient")
        return "model"

    model, choice = load_with_fallback(factory, "/m", DeviceChoice("cuda", "float16", "1 GPU"))
    assert model == "model"
    assert calls == [("cuda", "float16"), ("cpu", "int8")]
    assert (choice.device, choice.compute_type) == ("cpu", "int8")
    assert "CUDA load failed" in choice.reason


def test_a_cpu_load_failure_is_not_hidden():
    def factory(path, device, compute_type, **kw):
        raise RuntimeError("corrupt model.bin")

    with pytest.raises(RuntimeError, match="corrupt"):
        load_with_fallback(factory, "/m", DeviceChoice("cpu", "int8", "no GPU"))
