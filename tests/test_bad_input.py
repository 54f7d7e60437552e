"""Bad input across stages stops with one message naming the file, and nothing already written is lost.

(Archive and image cases are in tests/ingest, config mistakes in tests/test_config.py, predictions tables in
tests/evaluation; these are the files the stages write for each other, and the disk they write to.)
"""

import subprocess
import sys
import textwrap

import pytest
import torch

from melanoflow.classification.model import build_classifier, load_classifier, save_classifier
from melanoflow.fileio import BadInputError, write_text
from melanoflow.runtime import load_checkpoint
from melanoflow.segmentation.predict import load_segmenter


def truncated_copy(source, target):
    target.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    return target


def test_a_truncated_classifier_is_named_with_the_rule_to_rerun(tmp_path):
    model_path = tmp_path / "classifier.baseline.pt"
    save_classifier(model_path, build_classifier("resnet18", 3, None), {"arch": "resnet18", "classes": ["a", "b", "c"]})
    broken = truncated_copy(model_path, tmp_path / "classifier.broken.pt")
    with pytest.raises(BadInputError, match=r"classifier\.broken\.pt: not a readable model file.*rerun"):
        load_classifier(broken)


def test_a_truncated_segmenter_is_named(tmp_path):
    (tmp_path / "segmenter.pt").write_bytes(b"PK\x03\x04 not the rest of a torch zip")
    with pytest.raises(BadInputError, match=r"segmenter\.pt: not a readable model file"):
        load_segmenter(tmp_path / "segmenter.pt", torch.device("cpu"))


def test_a_gan_checkpoint_of_another_format_is_named(tmp_path):
    (tmp_path / "melanoma.pt").write_text("{'generator': 'not a pickle'}")
    with pytest.raises(BadInputError, match=r"melanoma\.pt: not a readable model file"):
        load_checkpoint(tmp_path / "melanoma.pt", weights_only=False)


def test_a_missing_model_file_is_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "absent.pt")


def test_results_that_cannot_be_created_are_named(tmp_path):
    (tmp_path / "results").write_text("a file where the results folder should be")
    with pytest.raises(OSError, match=r"results/manifests/images\.parquet: cannot be written"):
        write_text(tmp_path / "results" / "manifests" / "images.parquet", "x")


def test_a_full_disk_names_the_file_and_keeps_the_previous_one(tmp_path):
    """A file-size limit makes every write past 64 KiB fail as a full disk would (EFBIG)."""
    target = tmp_path / "metrics.json"
    target.write_text("the previous run's result")
    script = textwrap.dedent(f"""
        import resource, signal
        from melanoflow.fileio import write_text
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
        write_text({str(target)!r}, "x" * 1_000_000)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert f"{target}: cannot be written, the disk or quota is full" in last_line
    assert target.read_text() == "the previous run's result"
    assert [path.name for path in tmp_path.iterdir()] == ["metrics.json"]  # no temporary file left behind
