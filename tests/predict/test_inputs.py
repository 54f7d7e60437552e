"""Inputs of `melanoflow predict`: files, folders and zips collected by image id; awkward files decoded
correctly (EXIF rotation, CMYK, 16-bit, transparency) or skipped with the reason."""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from melanoflow.fileio import BadInputError, decode_image
from melanoflow.predict.inputs import MIN_SIDE, InputImage, collect_inputs, decode_input


def gradient(width: int = 120, height: int = 80) -> np.ndarray:
    """An RGB image whose every pixel differs from its neighbours (so a rotation cannot go unnoticed)."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 2, y * 3, (x + y) % 256], axis=2).astype(np.uint8)


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def decoded(tmp_path, name: str, data: bytes) -> np.ndarray:
    path = tmp_path / name
    path.write_bytes(data)
    return decode_input(InputImage(path.stem, str(path), None, str(path)))


def test_folders_zips_and_files_are_collected_by_image_id_in_order(tmp_path):
    folder = tmp_path / "clinic"
    (folder / "day2").mkdir(parents=True)
    (folder / "b.jpg").write_bytes(b"x")
    (folder / "day2" / "a.png").write_bytes(b"x")
    (folder / "notes.txt").write_text("not an image")
    (folder / "a_segmentation.png").write_bytes(b"x")  # an ISIC mask beside its image
    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("ISIC-2017_Test_v2_Data/ISIC_1.jpg", b"x")
        handle.writestr("ISIC-2017_Test_v2_Data/ISIC_1_superpixels.png", b"x")
        handle.writestr("ISIC-2017_Test_v2_Data/b.jpg", b"x")  # id taken by the folder's b.jpg
    single = tmp_path / "case.jpeg"
    single.write_bytes(b"x")

    images, skipped = collect_inputs([folder, archive, single, tmp_path / "absent"])

    assert [image.image_id for image in images] == ["b", "a", "ISIC_1", "case"]
    assert images[2].source == f"{archive}::ISIC-2017_Test_v2_Data/ISIC_1.jpg"
    reasons = {item.source: item.reason for item in skipped}
    assert reasons[str(tmp_path / "absent")] == "no such file or folder"
    assert reasons[f"{archive}::ISIC-2017_Test_v2_Data/b.jpg"] == f"image id 'b' already taken by {folder / 'b.jpg'}"
    assert len(skipped) == 2


def test_exif_orientation_is_applied_to_inputs_not_to_archives(tmp_path):
    image = gradient()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: shown turned 90 degrees clockwise
    data = encoded(Image.fromarray(image), "PNG", exif=exif)
    assert np.array_equal(decoded(tmp_path, "phone.png", data), np.rot90(image, k=-1))
    assert np.array_equal(decode_image(data, "phone.png"), image), "ingest keeps the stored pixels (masks match them)"


def test_cmyk_is_converted_to_rgb(tmp_path):
    image = gradient()
    cmyk = Image.fromarray(image).convert("CMYK")
    rgb = decoded(tmp_path, "cmyk.tif", encoded(cmyk, "TIFF"))
    assert rgb.shape == image.shape
    assert np.array_equal(rgb, np.asarray(cmyk.convert("RGB")))
    assert np.abs(rgb.astype(int) - image).max() <= 1


def test_16_bit_grey_levels_are_scaled_to_8_bits(tmp_path):
    levels = (np.arange(96 * 80).reshape(80, 96) * 8).astype(np.uint16)  # up to 61432
    rgb = decoded(tmp_path, "deep.png", encoded(Image.fromarray(levels), "PNG"))
    expected = np.rint(levels / 257).astype(np.uint8)
    assert rgb.shape == (80, 96, 3)
    assert np.array_equal(rgb[..., 0], expected) and np.array_equal(rgb[..., 2], expected)


def test_transparent_pixels_are_laid_over_black(tmp_path):
    image = gradient()
    alpha = np.full(image.shape[:2], 255, np.uint8)
    alpha[:, :40] = 0
    alpha[:, 40:60] = 128
    rgba = np.dstack([image, alpha])
    rgb = decoded(tmp_path, "cutout.png", encoded(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert not rgb[:, :40].any()
    assert np.array_equal(rgb[:, 60:], image[:, 60:])
    assert np.abs(rgb[:, 40:60].astype(int) - np.rint(image[:, 40:60].astype(float) * 128 / 255)).max() <= 1


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("tiny.png", encoded(Image.fromarray(gradient(MIN_SIDE - 1, 200)), "PNG"), "smaller than 64 px on a side"),
        ("notes.jpg", b"clinic notes, not an image", "not a readable image"),
        ("cut.jpg", encoded(Image.fromarray(gradient(400, 300)), "JPEG")[:2000], "corrupt or truncated image"),
    ],
)
def test_unusable_files_are_refused_with_their_name_and_reason(tmp_path, name, data, reason):
    with pytest.raises(BadInputError, match=rf"^{tmp_path / name}: .*{reason}"):
        decoded(tmp_path, name, data)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(encoded(Image.new("L", (12000, 10000)), "PNG"))
    with pytest.raises(BadInputError, match="120000000 pixels, over the cap of 100000000"):
        decode_input(InputImage("bomb", str(path), None, str(path)))
