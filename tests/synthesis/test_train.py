"""GAN training: exact resume, train-split-only reading, the paper's extra generator rounds, early stopping."""

import pytest
import torch

import melanoflow.fileio
from melanoflow.fileio import BadInputError
from melanoflow.resume import resume_path
from melanoflow.synthesis import train
from melanoflow.synthesis.settings import GanSettings
from melanoflow.synthesis.train import EarlyStopping, GanTrainer, diversity, fit, run_fingerprint, train_gan
from melanoflow.tables import read_images_manifest

from .conftest import SPLIT_COUNTS, gan_settings, job_settings, synthesis_params

SEED_SETTINGS = {"seed": 3, "mode": "decoupled", "device": "cpu"}


def tiny_settings(**gan_changes) -> GanSettings:
    return GanSettings.from_config(gan_settings(**gan_changes), **SEED_SETTINGS)


def tiny_images(n=8, seed=0):
    return torch.randint(0, 256, (n, 3, 64, 64), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path, monkeypatch):
    images, labels = tiny_images(), torch.zeros(8, dtype=torch.long)
    settings = tiny_settings(epochs=3)
    straight = fit(images, labels, ["melanoma"], settings)

    original = GanTrainer.train_one_epoch
    calls = {"n": 0}

    def interrupted(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # killed during the third epoch
        return original(self)

    output = tmp_path / "gan.pt"
    monkeypatch.setattr(GanTrainer, "train_one_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit(images, labels, ["melanoma"], settings, output=output)
    assert torch.load(resume_path(output), weights_only=False)["state"]["epoch"] == 2
    monkeypatch.setattr(GanTrainer, "train_one_epoch", original)
    resumed = fit(images, labels, ["melanoma"], settings, output=output)

    assert resumed["epoch"] == straight["epoch"] == 3
    assert resumed["rounds"] == straight["rounds"]
    for net in ("generator", "discriminator", "best_generator"):
        for name, tensor in straight[net].items():
            assert torch.equal(tensor, resumed[net][name]), f"{net}.{name} differs after resuming"
    assert resumed["history"] == straight["history"]


@pytest.mark.parametrize("change", ["settings", "inputs"])
def test_a_resume_file_of_other_settings_or_images_starts_over(tmp_path, caplog, change):
    images, labels = tiny_images(), torch.zeros(8, dtype=torch.long)
    output = tmp_path / "gan.pt"
    fit(images, labels, ["melanoma"], tiny_settings(epochs=1), output=output)
    assert resume_path(output).exists()  # train_gan removes it once the model is saved; fit leaves it
    later = tiny_settings(epochs=2, learning_rate=1e-3 if change == "settings" else 2e-4)
    changed_images = images if change == "settings" else 255 - images
    with caplog.at_level("INFO"):
        state = fit(changed_images, labels, ["melanoma"], later, output=output)
    assert "starting over" in caplog.text and f"other {change}" in caplog.text
    assert [row["epoch"] for row in state["history"]] == [0, 1]


def test_gan_reads_only_training_images_of_its_class(tiny_manifest, tmp_path, monkeypatch):
    read = []
    real_reader = melanoflow.fileio.read_image

    def recording_reader(path, *args, **kwargs):
        read.append(str(path))
        return real_reader(path, *args, **kwargs)

    monkeypatch.setattr(melanoflow.fileio, "read_image", recording_reader)
    output = tmp_path / "gan" / "melanoma.pt"
    train_gan(str(tiny_manifest), None, ["melanoma"], job_settings(synthesis_params(epochs=1)), str(output))

    manifest = read_images_manifest(tiny_manifest)
    allowed = set(manifest.loc[(manifest.split == "train") & (manifest.label == "melanoma"), "image_path"])
    assert len(read) == SPLIT_COUNTS["train"] and set(read) == allowed
    state = torch.load(output, weights_only=False)
    assert state["class_names"] == ["melanoma"] and state["epoch"] == 1
    assert not resume_path(output).exists()


def test_coupled_gan_trains_on_balanced_batches_of_its_classes(tiny_manifest, tmp_path, monkeypatch):
    seen_labels = []
    original = GanTrainer._discriminator_step

    def recording_step(self, real, labels, noise):
        seen_labels.append(labels.tolist())
        return original(self, real, labels, noise)

    monkeypatch.setattr(GanTrainer, "_discriminator_step", recording_step)
    params = {**synthesis_params(epochs=1), "mode": "coupled"}
    output = tmp_path / "coupled.pt"
    train_gan(str(tiny_manifest), None, ["melanoma", "nevus"], job_settings(params), str(output))
    assert seen_labels and all(sorted(b) == [0] * 4 + [1] * 4 for b in seen_labels)
    assert torch.load(output, weights_only=False)["architecture"]["latent_dim"] == 100


def test_two_extra_generator_rounds_after_every_tenth_joint_round(monkeypatch):
    steps = {"g": 0}
    original = GanTrainer._generator_step

    def counting(self, *args):
        steps["g"] += 1
        return original(self, *args)

    monkeypatch.setattr(GanTrainer, "_generator_step", counting)
    # 40 images, 2 per batch: 20 joint rounds per epoch -> 20 + 2 x 2 generator steps
    settings = tiny_settings(epochs=1, batch_size=2)
    state = fit(tiny_images(40), torch.zeros(40, dtype=torch.long), ["melanoma"], settings)
    assert state["rounds"] == 20 and steps["g"] == 24


def test_one_sided_label_smoothing_sets_the_real_target(monkeypatch):
    targets = []
    original = train.F.binary_cross_entropy_with_logits

    def recording(logits, target, *args, **kwargs):
        targets.append(float(target.flatten()[0]))
        return original(logits, target, *args, **kwargs)

    monkeypatch.setattr(train.F, "binary_cross_entropy_with_logits", recording)
    settings = tiny_settings(epochs=1, real_label=0.9)
    fit(tiny_images(4), torch.zeros(4, dtype=torch.long), ["melanoma"], settings)
    # per joint round: D real (smoothed), D fake (0), G (1: only the real side is smoothed)
    assert targets[:3] == [pytest.approx(0.9), 0.0, 1.0]


def test_early_stopping_waits_for_patience_after_warmup():
    stopping = EarlyStopping(min_ratio=0.2, patience=2, warmup=3)
    ratios = [0.01, 0.01, 0.01, 0.5, 0.1, 0.3, 0.1, 0.1]
    decisions = [stopping.update(epoch, ratio) for epoch, ratio in enumerate(ratios)]
    assert decisions == [False] * 7 + [True]


def test_collapsed_generator_is_replaced_by_the_last_healthy_one(monkeypatch):
    ratios = iter([1.0, 1.0, 0.0, 0.0])
    monkeypatch.setattr(GanTrainer, "measure_diversity", lambda self: next(ratios) * self.real_diversity)
    settings = tiny_settings(epochs=10, warmup_epochs=0, patience=2, min_diversity_ratio=0.5)
    state = fit(tiny_images(), torch.zeros(8, dtype=torch.long), ["melanoma"], settings)
    assert state["stopped_early"] and state["epoch"] == 4 and state["best_epoch"] == 1
    assert [round(h["diversity_ratio"], 6) for h in state["history"]] == [1.0, 1.0, 0.0, 0.0]


def test_diversity_is_mean_pairwise_rms_distance_in_unit_pixels():
    images = torch.stack([torch.full((3, 2, 2), -1.0), torch.full((3, 2, 2), 1.0), torch.full((3, 2, 2), 0.0)])
    # pairwise RMS distances in [0, 1] units: 1, 0.5, 0.5
    assert diversity(images) == pytest.approx(2 / 3)


def test_a_class_without_training_images_is_named(tiny_manifest, tmp_path):
    with pytest.raises(BadInputError, match="seborrheic_keratosis.*0 training images"):
        train_gan(str(tiny_manifest), None, ["seborrheic_keratosis"], job_settings(synthesis_params()),
                  str(tmp_path / "gan.pt"))


def test_gan_settings_take_the_latent_size_of_their_mode():
    assert tiny_settings().latent_dim == 10
    assert GanSettings.from_config(gan_settings(), **{**SEED_SETTINGS, "mode": "coupled"}).latent_dim == 100


@pytest.mark.parametrize(("gan", "mode", "error"), [
    ({key: value for key, value in gan_settings().items() if key != "patience"}, "decoupled",
     r"^missing key\(s\) synthesis\.gan\.patience$"),
    ({**gan_settings(), "lr": 1e-3}, "decoupled", r"^unknown key\(s\) synthesis\.gan\.lr$"),
    (gan_settings(latent_dim={"decoupled": 10}), "coupled", r"synthesis\.gan\.latent_dim\.coupled"),
    (gan_settings(), "paired", r"^synthesis\.mode: 'paired'"),
])  # fmt: skip
def test_gan_settings_name_a_missing_or_unknown_key(gan, mode, error):
    with pytest.raises(ValueError, match=error):
        GanSettings.from_config(gan, **{**SEED_SETTINGS, "mode": mode})


def test_the_resume_stamp_follows_every_setting_but_the_resumable_ones():
    images, labels = tiny_images(), torch.zeros(8, dtype=torch.long)

    def stamp(settings):
        return run_fingerprint(images, labels, ["melanoma"], settings)["settings"]

    base = tiny_settings()
    assert stamp(tiny_settings()) == stamp(base)
    assert stamp(tiny_settings(epochs=9, checkpoint_every=3)) == stamp(base)
    other_mode_latent = tiny_settings(latent_dim={"decoupled": 10, "coupled": 50})
    assert stamp(other_mode_latent) == stamp(base)
    assert stamp(GanSettings.from_config(gan_settings(), **{**SEED_SETTINGS, "device": "cuda"})) == stamp(base)
    for changed in (tiny_settings(real_label=1.0), tiny_settings(latent_dim={"decoupled": 12, "coupled": 100}),
                    GanSettings.from_config(gan_settings(), **{**SEED_SETTINGS, "seed": 4})):
        assert stamp(changed) != stamp(base)
