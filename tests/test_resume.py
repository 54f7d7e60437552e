"""The shared resume file: matched by its stamp, refused with the differing part named, and the partial
files of earlier versions removed rather than left beside the outputs."""

import logging

import numpy as np

from melanoflow.resume import Resume, fingerprint, resume_path


def stamp(pixels: np.ndarray, epochs: int) -> dict[str, str]:
    return fingerprint({"epochs": epochs}, {"pixels": pixels}, [])


def test_a_matching_stamp_resumes_and_another_names_what_differs(tmp_path, caplog):
    output = tmp_path / "models" / "segmenter.pt"
    pixels = np.arange(12, dtype=np.uint8)
    Resume(output, stamp(pixels, 3)).save({"epoch": 2})
    assert resume_path(output) == tmp_path / "models" / "segmenter.resume.pt"
    assert Resume(output, stamp(pixels, 3)).load() == {"epoch": 2}
    with caplog.at_level(logging.INFO, logger="melanoflow.resume"):
        assert Resume(output, stamp(pixels[::-1].copy(), 3)).load() is None
    assert "written with other inputs" in caplog.text
    Resume(output, stamp(pixels, 3)).finish()
    assert not resume_path(output).exists()


def test_partial_files_of_earlier_versions_are_removed_with_a_log_line(tmp_path, caplog):
    output = tmp_path / "segmenter.pt"
    legacy = [tmp_path / "segmenter.checkpoint.pt", tmp_path / "segmenter.pt.resume", tmp_path / "segmenter.pt.partial"]
    for path in legacy:
        path.write_bytes(b"old")
    current = resume_path(output)
    current.write_bytes(b"kept")
    with caplog.at_level(logging.INFO, logger="melanoflow.resume"):
        Resume(output, stamp(np.zeros(1), 1))
    assert not any(path.exists() for path in legacy)
    assert current.read_bytes() == b"kept"
    assert caplog.text.count("older version of melanoflow, not resumable") == 3
