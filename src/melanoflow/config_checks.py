"""Checks across config sections, run when the workflow plans its DAG, before any job.

The JSON schema checks each value on its own; these check that the values agree with each other (a
variant the evaluation names exists, every class named anywhere is one of ``classes``), which otherwise
fail only in the last jobs, hours into a run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import ClassVar, Self

# What a job's settings hold from outside their config section (the config's top level).
RUN_KEYS = ("seed", "classes")


class ConfigError(ValueError):
    """A config whose sections disagree; the message names every offending key."""


def field_names(settings_class) -> tuple[str, ...]:
    """The field names of a settings dataclass: the keys of the config section it is built from."""
    return tuple(field.name for field in fields(settings_class))


def section_keys(settings_class) -> tuple[str, ...]:
    """The keys of its config section that a settings class holds: its fields but the run's seed and classes."""
    return tuple(name for name in field_names(settings_class) if name not in RUN_KEYS)


def check_section_keys(section: Mapping, expected: Iterable[str], where: str) -> None:
    """A settings object's keys: ValueError naming every unknown key of ``section``, else every missing one,
    each as ``<where>.<key>`` (the key alone where ``where`` is empty: a file's top level)."""
    expected = set(expected)
    prefix = f"{where}." if where else ""
    for problem, names in (("unknown", set(section) - expected), ("missing", expected - set(section))):
        if names:
            raise ValueError(f"{problem} key(s) {', '.join(prefix + name for name in sorted(names))}")


class SectionSettings:
    """Base of a frozen settings dataclass whose fields are the keys of one config section."""

    SECTION: ClassVar[str]  # where the section is in the config, e.g. "synthesis.dedup"

    @classmethod
    def from_config(cls, section: Mapping) -> Self:
        """The settings of ``section``, lists as tuples (the settings are frozen); a missing or unknown key is
        an error naming it as ``<SECTION>.<key>``."""
        check_section_keys(section, field_names(cls), cls.SECTION)
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in section.items()})


def unknown(names: Iterable[str], known: Iterable[str]) -> list[str]:
    known = set(known)
    return sorted(name for name in names if name not in known)


def config_problems(config: Mapping) -> list[str]:
    """Every disagreement between sections, one sentence each naming the key (empty when none)."""
    classes = list(config["classes"])
    variants = list(config["classification"]["variants"])
    evaluation = config["evaluation"]
    problems = []

    def expect(key: str, names: Iterable[str], known: list[str], what: str) -> None:
        bad = unknown(names, known)
        if bad:
            problems.append(f"{key}: {', '.join(map(repr, bad))} {'is' if len(bad) == 1 else 'are'} not "
                            f"{what} (known: {', '.join(known)})")

    expect("evaluation.baseline", [evaluation["baseline"]], variants, "a variant in classification.variants")
    expect("evaluation.proposed", [evaluation["proposed"]], variants, "a variant in classification.variants")
    expect("evaluation.vbp.variants", evaluation["vbp"]["variants"], variants,
           "a variant in classification.variants")  # fmt: skip
    expect("evaluation.melanoma_class", [evaluation["melanoma_class"]], classes, "one of classes")
    if evaluation["keratosis_class"] is not None:  # null: the mean AUC averages every class (ISIC 2018)
        expect("evaluation.keratosis_class", [evaluation["keratosis_class"]], classes, "one of classes")
    artefacts = evaluation["artefacts"]
    expect("evaluation.artefacts.flags", artefacts["flags"], list(config["datasets"]), "a configured dataset")
    expect("evaluation.artefacts.counterfactual.variants", artefacts["counterfactual"]["variants"], variants,
           "a variant in classification.variants")
    for name, variant in config["classification"]["variants"].items():
        expect(f"classification.variants.{name}.flip_targets", variant["flip_targets"], classes, "one of classes")
    expect("synthesis.samples", config["synthesis"]["samples"], classes, "one of classes")
    for name, dataset in config["datasets"].items():
        mapped = {label for label in (dataset.get("labels") or {}).values() if label is not None}  # null: left out
        expect(f"datasets.{name}.labels", mapped, classes, "one of classes")
        split = dataset.get("split", "official")
        if split == "trap" and "trap" not in dataset:
            problems.append(f"datasets.{name}.trap: datasets.{name}.split is trap, but the trap settings are missing")
        elif split != "trap" and "trap" in dataset:
            problems.append(f"datasets.{name}.trap: set, but datasets.{name}.split is {split!r}, not trap")
        elif split == "trap":
            expect(f"datasets.{name}.trap.class", [dataset["trap"]["class"]], classes, "one of classes")
    demo = config["demo"]
    if demo["enabled"]:
        expect("demo.class_shares", demo["class_shares"], classes, "one of classes")
        if demo["shortcut"]["enabled"]:
            expect("demo.shortcut.class", [demo["shortcut"]["class"]], classes, "one of classes")
    return problems


def check_config(config: Mapping, source: str = "the config") -> None:
    """Raise :class:`ConfigError` listing every cross-section problem of ``config``."""
    problems = config_problems(config)
    if problems:
        raise ConfigError(f"{source}: {len(problems)} setting(s) disagree with the rest of the config:\n- "
                          + "\n- ".join(problems))
