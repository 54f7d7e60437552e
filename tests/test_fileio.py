"""Atomic writes and checked image decoding."""

import numpy as np
import pytest

from melanoflow.fileio import BadInputError, atomic_path, decode_image, read_image, write_image, write_json


def test_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "table.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text().strip().startswith("{") and '"a": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["table.json"]


def test_image_round_trip_keeps_rgb_order(tmp_path):
    image = np.zeros((4, 5, 3), np.uint8)
    image[..., 0] = 200  # red
    write_image(tmp_path / "red.png", image)
    np.testing.assert_array_equal(read_image(tmp_path / "red.png"), image)


def test_undecodable_bytes_name_the_source():
    with pytest.raises(BadInputError, match="^upload.jpg: not a readable image"):
        decode_image(b"GIF89a-garbage", "upload.jpg")
