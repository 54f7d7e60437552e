"""CPU precision: bf16 only where the CPU computes it natively (flags), whatever oneDNN claims."""

import contextlib
import logging
import subprocess
import sys

import pytest
import torch

from melanoflow import runtime

CPU = torch.device("cpu")
# Skylake-SP: AVX-512 (oneDNN runs bf16 on it, emulated) but no bf16 instructions.
SKYLAKE_SP = frozenset({"fpu", "sse2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512cd", "avx512bw",
                        "avx512vl"})


@pytest.fixture
def cpu(monkeypatch):
    """Set the CPU's flags and what oneDNN claims; the override variable is unset."""
    monkeypatch.delenv(runtime.CPU_PRECISION_ENV, raising=False)
    monkeypatch.setattr(runtime, "_logged_choices", set())

    def set_cpu(flags, onednn_bf16=True):
        monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset(flags))
        monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: True)
        monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: onednn_bf16)

    return set_cpu


def test_skylake_avx512_without_bf16_stays_fp32_although_onednn_claims_bf16(cpu, caplog):
    cpu(SKYLAKE_SP, onednn_bf16=True)
    with caplog.at_level(logging.INFO, logger="melanoflow.runtime"):
        assert runtime.cpu_supports_bf16() is False
        assert runtime.low_precision_dtype(CPU) is None
    assert "CPU precision: fp32" in caplog.text and "no native bf16" in caplog.text


@pytest.mark.parametrize("flag", ["avx512_bf16", "amx_bf16"])
def test_native_bf16_flags_choose_bf16(cpu, flag, caplog):
    cpu(SKYLAKE_SP | {flag})
    with caplog.at_level(logging.INFO, logger="melanoflow.runtime"):
        assert runtime.cpu_supports_bf16() is True
        assert runtime.low_precision_dtype(CPU) == torch.bfloat16
    assert "CPU precision: bf16" in caplog.text and flag in caplog.text


def test_native_flags_without_onednn_bf16_stay_fp32(cpu):
    cpu(SKYLAKE_SP | {"amx_bf16", "avx512_bf16"}, onednn_bf16=False)
    assert runtime.low_precision_dtype(CPU) is None


@pytest.mark.parametrize(("flags", "value", "expected"), [
    (SKYLAKE_SP, "bf16", torch.bfloat16),
    (SKYLAKE_SP | {"amx_bf16"}, "fp32", None),
    (SKYLAKE_SP | {"amx_bf16"}, " BF16 ", torch.bfloat16),
    (SKYLAKE_SP | {"amx_bf16"}, "auto", torch.bfloat16),
])
def test_environment_overrides_the_flags(cpu, monkeypatch, caplog, flags, value, expected):
    cpu(flags)
    monkeypatch.setenv(runtime.CPU_PRECISION_ENV, value)
    with caplog.at_level(logging.INFO, logger="melanoflow.runtime"):
        assert runtime.low_precision_dtype(CPU) == expected
    if value != "auto":
        assert f"{runtime.CPU_PRECISION_ENV}={value.strip().lower()}" in caplog.text


def test_unknown_override_is_an_error(cpu, monkeypatch):
    cpu(SKYLAKE_SP)
    monkeypatch.setenv(runtime.CPU_PRECISION_ENV, "fp16")
    with pytest.raises(ValueError, match=r"MELANOFLOW_CPU_PRECISION='fp16'.*bf16, fp32 or auto"):
        runtime.cpu_supports_bf16()


def test_choice_is_logged_once(cpu, caplog):
    cpu(SKYLAKE_SP | {"amx_bf16"})
    with caplog.at_level(logging.INFO, logger="melanoflow.runtime"):
        for _ in range(3):
            runtime.cpu_supports_bf16()
    assert caplog.text.count("CPU precision") == 1


def test_autocast_is_a_no_op_without_bf16(cpu):
    cpu(SKYLAKE_SP, onednn_bf16=True)
    context = runtime.autocast(CPU)
    assert isinstance(context, contextlib.nullcontext)
    with context:
        product = torch.ones(4, 4) @ torch.ones(4, 4)
    assert product.dtype == torch.float32


def test_autocast_computes_in_bf16_with_native_bf16(cpu):
    cpu(SKYLAKE_SP | {"amx_bf16"})
    with runtime.autocast(CPU):
        product = torch.ones(4, 4) @ torch.ones(4, 4)
    assert product.dtype == torch.bfloat16
    assert isinstance(runtime.autocast(CPU, enabled=False), contextlib.nullcontext)


def test_cpu_flags_reads_the_flags_line_of_cpuinfo(monkeypatch, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx512f amx_bf16\n\n"
                       "processor\t: 1\nflags\t\t: fpu avx512f amx_bf16\n")
    monkeypatch.setattr(runtime, "CPUINFO", str(cpuinfo))
    runtime.cpu_flags.cache_clear()
    try:
        assert runtime.cpu_flags() == frozenset({"fpu", "avx512f", "amx_bf16"})
        runtime.cpu_flags.cache_clear()
        monkeypatch.setattr(runtime, "CPUINFO", str(tmp_path / "absent"))
        assert runtime.cpu_flags() == frozenset()
    finally:
        runtime.cpu_flags.cache_clear()


def test_cuda_choice_is_unchanged(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert runtime.low_precision_dtype(torch.device("cuda")) == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert runtime.low_precision_dtype(torch.device("cuda")) == torch.bfloat16


def test_a_failing_jobs_log_holds_its_traceback_and_stderr_names_the_problem(tmp_path):
    log_path = tmp_path / "logs" / "job.log"
    script = (f"from melanoflow.runtime import setup_logging\nsetup_logging({str(log_path)!r})\n"
              "def read():\n    raise ValueError('images/a.png: truncated PNG')\nread()\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)

    assert result.returncode == 1
    logged = log_path.read_text()
    assert "Traceback (most recent call last)" in logged and "in read" in logged
    assert "ValueError: images/a.png: truncated PNG" in logged
    assert result.stderr.strip().splitlines()[-1] == "ValueError: images/a.png: truncated PNG"
