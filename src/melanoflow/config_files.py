"""Config files as overlays of the paper's config/config.yaml.

A config named on the command line (`--configfile`) changes only what it names: settings are merged key by
key into the default. Collections of named things (the datasets, the classifier variants, the classes the
GANs synthesize) are replaced whole when an overlay names any, so that a demo or CPU run never inherits the
paper's archives or variants. Several overlays merge key by key among themselves first (as Snakemake
merges its config files); a later one drops a named thing an earlier one brought with ``name: null``
(config/isic2017-trap.yaml drops PH2 and two variants of config/isic2017-cpu.yaml).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

REPLACED_WHOLE = (("datasets",), ("classification", "variants"), ("synthesis", "samples"))


def merge(base: Mapping, changes: Mapping, replaced_whole=REPLACED_WHOLE, path: tuple[str, ...] = ()) -> dict:
    """``base`` with ``changes`` laid over it: mappings merged key by key, except the ``replaced_whole``
    collections and every non-mapping value, which ``changes`` replaces. Neither argument is modified."""
    merged = copy.deepcopy(dict(base))
    for key, value in changes.items():
        here = (*path, key)
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) and here not in replaced_whole:
            merged[key] = merge(merged[key], value, replaced_whole, here)
        elif here in replaced_whole and isinstance(value, Mapping):
            merged[key] = {name: copy.deepcopy(item) for name, item in value.items() if item is not None}
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_config(overlays: Iterable[str | Path], default: str | Path) -> dict:
    """The config a workflow run with ``--configfile <overlays...>`` sees: the overlays merged key by key in
    order (as Snakemake merges command-line config files), then laid over ``default``."""
    changes: dict = {}
    for path in overlays:
        changes = merge(changes, yaml.safe_load(Path(path).read_text()) or {}, replaced_whole=())
    return merge(yaml.safe_load(Path(default).read_text()), changes)
