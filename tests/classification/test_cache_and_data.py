"""Image cache (cached tensor == fresh decode, through shard pieces) and the manifest's transforms on tensors."""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from torchvision.transforms.v2 import functional as F

from melanoflow import fileio
from melanoflow.classification.cache import (
    build_cache,
    cache_sources,
    lesion_box,
    lesion_boxes,
    merge_caches,
    open_cache,
    shard_sources,
    write_cache,
    write_manifest_cache_shard,
)
from melanoflow.classification.colour import shades_of_gray
from melanoflow.classification.data import ManifestImages, apply_manifest_transform, epoch_order
from melanoflow.classification.settings import OnlineAugmentation

from .conftest import CLASSES, write_images


def manifest_of(paths, labels=None, **transform):
    rows = pd.DataFrame({"source_path": paths, "label": labels or [CLASSES[0]] * len(paths), "hflip": False,
                         "vflip": False, "crop_x0": 0.0, "crop_y0": 0.0, "crop_x1": 1.0, "crop_y1": 1.0,
                         "seed": np.arange(len(paths)) + 7})
    return rows.assign(**transform)


def test_cache_merged_from_shard_pieces_equals_a_fresh_decode(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # manifests hold paths relative to the working directory, as in the workflow
    paths = write_images(Path("."), ["a", "b", "c"], size=(50, 40))
    cv2.imwrite("d.jpg", np.random.default_rng(3).integers(0, 256, (30, 60, 3), dtype=np.uint8))
    paths.append("d.jpg")
    manifest = manifest_of([paths[2], paths[0], paths[2], paths[1], paths[3]])  # repeats share one slot
    pieces = [(f"{shard}.npy", f"{shard}.json") for shard in range(3)]
    for shard, (cache_file, index_file) in enumerate(pieces):
        write_cache(shard_sources(manifest, shard, 3), 24, cache_file, index_file, threads=2)
    # shard_of("<path>", 3): b and d -> 0, a and c -> 2, so each image is decoded once and piece 1 is empty
    assert [sorted(open_cache(*piece).slots) for piece in pieces] == [["b.png", "d.jpg"], [], ["a.png", "c.png"]]
    merge_caches(cache_sources(manifest), pieces, 24, "cache.npy", "cache.json")
    cache = open_cache("cache.npy", "cache.json")
    assert isinstance(cache.pixels, np.memmap) and cache.pixels.shape == (4, 24, 24, 3)
    assert list(cache.slots) == ["c.png", "a.png", "b.png", "d.jpg"]  # the manifest's order, not the shards'
    for path in paths:
        fresh = cv2.resize(fileio.read_image(path), (24, 24), interpolation=cv2.INTER_AREA)
        np.testing.assert_array_equal(cache.pixels[cache.slots[path]], fresh)
    # and through the dataset: an untransformed eval row is the fresh decode, centre-cropped, as CHW
    image, _ = ManifestImages(manifest, cache, CLASSES, 20, train=False)[4]
    fresh = cv2.resize(fileio.read_image(paths[3]), (24, 24), interpolation=cv2.INTER_AREA)[2:22, 2:22]
    assert torch.equal(image, torch.from_numpy(fresh).permute(2, 0, 1))


def test_a_cache_of_another_manifest_is_refused(tmp_path):
    paths = write_images(tmp_path, ["a", "b"])
    write_cache(paths, 16, tmp_path / "cache.npy", tmp_path / "cache.json")
    write_cache(paths[:1], 16, tmp_path / "other.npy", tmp_path / "other.json")
    with pytest.raises(fileio.BadInputError, match="cache"):
        open_cache(tmp_path / "cache.npy", tmp_path / "other.json")
    with pytest.raises(KeyError, match="no slot"):
        ManifestImages(manifest_of(paths), open_cache(tmp_path / "other.npy", tmp_path / "other.json"), CLASSES, 16,
                       train=False)
    # merging: a source no piece holds, and a piece cached at another size, are refused
    other = [(tmp_path / "other.npy", tmp_path / "other.json")]
    with pytest.raises(fileio.BadInputError, match="lack 1 images, e.g. '.*b.png'"):
        merge_caches(paths, other, 16, tmp_path / "merged.npy", tmp_path / "merged.json")
    with pytest.raises(fileio.BadInputError, match="other.npy: images cached at 16px, expected 24px"):
        merge_caches(paths[:1], other, 24, tmp_path / "merged.npy", tmp_path / "merged.json")
    assert not (tmp_path / "merged.npy").exists()


def test_manifest_transform_flips_and_crop_box():
    image = torch.arange(3 * 8 * 8, dtype=torch.uint8).reshape(3, 8, 8)
    row = manifest_of(["x"], hflip=True, vflip=True).iloc[0]
    assert torch.equal(apply_manifest_transform(image, row), image.flip(-1).flip(-2))
    # a box of the top-left quarter, scaled back up 2x with nearest-like content: corners come from that quarter
    row = manifest_of(["x"], crop_x1=0.5, crop_y1=0.5).iloc[0]
    cropped = apply_manifest_transform(image.float(), row)
    assert cropped.shape == (3, 8, 8)
    assert cropped.max() <= image[:, :4, :4].float().max() + 1e-4
    assert cropped.min() >= image[:, :4, :4].float().min() - 1e-4


def test_training_augmentation_depends_on_row_seed_and_epoch_only(tmp_path):
    paths = write_images(tmp_path, ["a", "b"], size=(40, 40))
    cache = build_cache(paths, 32)
    dataset = ManifestImages(manifest_of(paths), cache, CLASSES, 16, train=True)
    first = [dataset[i][0] for i in range(2)]
    again = ManifestImages(manifest_of(paths), cache, CLASSES, 16, train=True)
    assert all(torch.equal(a, again[i][0]) for i, a in enumerate(first))
    dataset.epoch = 1
    assert not all(torch.equal(a, dataset[i][0]) for i, a in enumerate(first))
    assert first[0].shape == (3, 16, 16)
    assert epoch_order(10, 200, 3) == epoch_order(10, 200, 3) != epoch_order(10, 200, 4)


def augmented(paths, cache, input_size, epochs, **augment):
    """The first row's training image in each of ``epochs`` epochs under ``augment`` (the rest off)."""
    settings = OnlineAugmentation(**{"right_angles": False, "scale": None, "colour_jitter": 0.0, "hue_jitter": 0.0}
                                  | augment)
    dataset = ManifestImages(manifest_of(paths), cache, CLASSES, input_size, train=True, augment=settings)
    images = []
    for epoch in range(epochs):
        dataset.epoch = epoch
        images.append(dataset[0][0])
    return images


def test_right_angle_rotations_give_all_eight_orientations(tmp_path):
    paths = write_images(tmp_path, ["a"], size=(16, 16))
    cache = build_cache(paths, 16)
    image = torch.from_numpy(np.array(cache.pixels[0])).permute(2, 0, 1)
    orientations = [torch.rot90(flipped, k, dims=(1, 2)) for flipped in (image, image.flip(1)) for k in range(4)]
    seen = set()
    for output in augmented(paths, cache, 16, 64, right_angles=True):  # input = cache size: no crop
        matches = [index for index, orientation in enumerate(orientations) if torch.equal(output, orientation)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert seen == set(range(8))
    # without rotations only the identity and the reference code's vertical flip occur
    assert {int(torch.equal(output, image.flip(1))) for output in augmented(paths, cache, 16, 16)} == {0, 1}
    assert all(torch.equal(o, image) or torch.equal(o, image.flip(1)) for o in augmented(paths, cache, 16, 16))


def test_scale_crops_a_random_square_of_that_area_resized_to_the_input(tmp_path):
    paths = write_images(tmp_path, ["a"], size=(32, 32))
    cache = build_cache(paths, 32)
    image = torch.from_numpy(np.array(cache.pixels[0])).permute(2, 0, 1)
    whole = F.resize(image, [16, 16], antialias=True)
    for output in augmented(paths, cache, 16, 8, scale=[1.0, 1.0]):  # the whole image, shrunk to 16 px
        assert torch.equal(output, whole) or torch.equal(output, whole.flip(1))
    # a quarter of the area is a 16-px square, taken as it is: some 16 x 16 window of the cached image
    windows = {image[:, top:top + 16, left:left + 16].flip(1).numpy().tobytes() for top in range(17)
               for left in range(17)} | {image[:, top:top + 16, left:left + 16].numpy().tobytes()
                                         for top in range(17) for left in range(17)}
    assert all(output.numpy().tobytes() in windows for output in augmented(paths, cache, 16, 8, scale=[0.25, 0.25]))


def test_colour_jitter_scales_a_grey_image_by_the_brightness_factor_only(tmp_path):
    fileio.write_image(tmp_path / "grey.png", np.full((16, 16, 3), 100, np.uint8))
    paths = [str(tmp_path / "grey.png")]
    cache = build_cache(paths, 16)
    outputs = augmented(paths, cache, 16, 20, colour_jitter=0.5, hue_jitter=0.5)
    # contrast, saturation and hue leave a uniform grey as it is; brightness multiplies it by 0.5-1.5
    for output in outputs:
        assert (output == output[0, 0, 0]).all() and 50 <= int(output[0, 0, 0]) <= 150
    assert len({int(output[0, 0, 0]) for output in outputs}) > 10


def test_colour_jitter_shifts_hue_and_keeps_shapes(tmp_path):
    paths = write_images(tmp_path, ["a"], size=(16, 16))
    cache = build_cache(paths, 16)
    plain = augmented(paths, cache, 16, 4)
    hued = augmented(paths, cache, 16, 4, hue_jitter=0.2)
    assert all(h.shape == p.shape == (3, 16, 16) and h.dtype == torch.uint8 for h, p in zip(hued, plain, strict=True))
    assert not any(torch.equal(h, p) for h, p in zip(hued, plain, strict=True))


@pytest.mark.parametrize("augment, message", [
    ({"scale": [0.0, 0.5]}, r"classification\.augment\.scale"),
    ({"scale": [0.9, 0.5]}, r"classification\.augment\.scale"),
    ({"colour_jitter": 1.0}, r"classification\.augment\.colour_jitter"),
    ({"hue_jitter": 0.6}, r"classification\.augment\.hue_jitter"),
    ({"rotate": True}, r"unknown key\(s\) classification\.augment\.rotate"),
])
def test_augmentation_settings_are_checked_by_name(augment, message):
    section = {"right_angles": False, "scale": None, "colour_jitter": 0.0, "hue_jitter": 0.0} | augment
    with pytest.raises(ValueError, match=message):
        OnlineAugmentation.from_config(section)


def test_epoch_order_sizes_and_class_balance():
    assert sorted(epoch_order(10, 200, 0)) == list(range(10))  # default: every example once
    longer = epoch_order(10, 200, 0, size=25)
    assert len(longer) == 25 and sorted(longer[:10]) == sorted(longer[10:20]) == list(range(10))
    assert len(set(longer[20:])) == 5
    targets = np.array([0] * 90 + [1] * 10)
    balanced = np.asarray(epoch_order(100, 200, 0, size=20000, targets=targets))
    assert abs((targets[balanced] == 1).mean() - 0.5) < 0.02
    assert set(balanced[targets[balanced] == 1]) == set(range(90, 100))


def test_lesion_box_is_a_square_around_the_lesion_inside_the_image():
    mask = np.zeros((100, 200), bool)
    mask[40:60, 100:130] = True  # 20 x 30 lesion centred at (y 50, x 115)
    # longest side 30, grown by 0.5 x 30 on each side: a 60-px square around the centre
    assert lesion_box(mask, 0.5) == (85, 20, 145, 80)
    assert lesion_box(mask, 0.0) == (100, 35, 130, 65)
    mask[:] = False
    mask[0:10, 190:200] = True  # in the corner: the square moves inside the image
    assert lesion_box(mask, 1.0) == (170, 0, 200, 30)
    mask[:] = True  # larger than the short side: shrunk to it
    assert lesion_box(mask, 0.2) == (50, 0, 150, 100)
    assert lesion_box(np.zeros((5, 5), bool), 0.2) is None


def test_lesion_crop_cache_holds_the_lesion(tmp_path):
    image = np.zeros((60, 120, 3), np.uint8)
    image[20:40, 80:100] = 255  # a bright square lesion on the right
    fileio.write_image(tmp_path / "a.png", image)
    mask = image[..., 0] > 0
    fileio.write_image(tmp_path / "a_mask.png", mask.astype(np.uint8) * 255)
    masks = pd.DataFrame({"image_id": ["a"], "dataset": ["d"], "split": ["test"],
                          "mask_path": [str(tmp_path / "a_mask.png")], "lesion_fraction": [mask.mean()]})
    masks.to_parquet(tmp_path / "masks.parquet")
    rows = pd.DataFrame({"source_path": [str(tmp_path / "a.png")], "dataset": ["d"], "image_id": ["a"],
                         "origin": ["real"]})
    boxes = lesion_boxes(rows, tmp_path / "masks.parquet", 0.5)
    assert boxes == {str(tmp_path / "a.png"): (70, 10, 110, 50)}
    cropped = build_cache(list(boxes), 20, boxes=boxes).pixels[0]
    whole = build_cache(list(boxes), 20).pixels[0]
    assert cropped[5:15, 5:15].min() == 255 and cropped[:4].max() == 0  # the lesion fills the middle half
    assert (whole > 0).mean() < (cropped > 0).mean()
    synthetic = rows.assign(origin="synthetic")
    assert lesion_boxes(synthetic, tmp_path / "masks.parquet", 0.5) == {str(tmp_path / "a.png"): None}


def test_the_cache_corrects_the_whole_images_colours_before_the_lesion_crop(tmp_path):
    rng = np.random.default_rng(5)
    image = rng.integers(30, 220, (36, 48, 3)).astype(np.float64)
    image[:, :24] *= (1.0, 0.75, 0.5)  # a warm left half (the lesion's), a bluish right half
    image[:, 24:] *= (0.5, 0.7, 1.0)
    image = image.astype(np.uint8)
    path = str(tmp_path / "a.png")
    fileio.write_image(path, image)
    boxes = {path: (0, 6, 24, 30)}

    def resized(pixels):
        return cv2.resize(pixels[6:30, 0:24], (16, 16), interpolation=cv2.INTER_AREA)

    plain = build_cache([path], 16, boxes=boxes).pixels[0]
    np.testing.assert_array_equal(plain, resized(image))
    corrected = build_cache([path], 16, boxes=boxes, color_constancy="shades_of_gray").pixels[0]
    np.testing.assert_array_equal(corrected, resized(shades_of_gray(image)))
    assert np.abs(corrected.astype(int) - plain).max() > 20
    # the illuminant is the whole image's, not the crop's
    crop_only = cv2.resize(shades_of_gray(image[6:30, 0:24]), (16, 16), interpolation=cv2.INTER_AREA)
    assert np.abs(corrected.astype(int) - crop_only).max() > 20
    # the workflow's memory-mapped pieces hold the same pixels
    write_cache([path], 16, tmp_path / "c.npy", tmp_path / "c.json", boxes=boxes, color_constancy="shades_of_gray")
    np.testing.assert_array_equal(open_cache(tmp_path / "c.npy", tmp_path / "c.json").pixels[0], corrected)
    # an unknown method is refused, naming the key, before any manifest or image is read
    with pytest.raises(ValueError, match=r"^classification\.color_constancy: 'grey_world'"):
        write_manifest_cache_shard(tmp_path / "absent.parquet", 0, 1, 16, tmp_path / "x.npy", tmp_path / "x.json",
                                   color_constancy="grey_world")
