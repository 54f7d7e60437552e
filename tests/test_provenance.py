"""The code inputs of a rule: the package modules its script runs, found by reading imports."""

from pathlib import Path

from melanoflow.provenance import package_modules

REPO = Path(__file__).resolve().parents[1]


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_every_kind_of_import_is_followed_and_nothing_else_is_listed(tmp_path):
    package = tmp_path / "src" / "melanoflow"
    write(package / "__init__.py")
    write(package / "io.py", "import os\n")
    write(package / "unused.py")
    write(package / "stage" / "__init__.py", "from .helpers import tool\n")
    write(package / "stage" / "helpers.py", "from melanoflow import io\n\ndef tool():\n    pass\n")
    write(package / "stage" / "figures.py", "from ..other import plot\n")
    write(package / "other" / "__init__.py")
    write(package / "other" / "plot.py", "import numpy\n")
    write(package / "stage" / "lazy.py")
    write(package / "stage" / "run.py", "def later():\n    from melanoflow.stage import lazy\n")
    script = write(tmp_path / "scripts" / "job.py", "import sys\nfrom melanoflow.stage.run import later\n"
                                                    "import melanoflow.stage.figures as figures\n")

    found = {str(path.relative_to(package)) for path in package_modules(script, package)}

    assert found == {
        "__init__.py", "stage/__init__.py", "stage/run.py", "stage/lazy.py",  # lazy import inside a function
        "stage/helpers.py", "io.py",  # through the package's own relative import
        "stage/figures.py", "other/__init__.py", "other/plot.py",  # a two-level relative import
    }


def test_the_workflows_scripts_list_the_modules_they_import():
    scripts = REPO / "workflow" / "scripts"
    package = REPO / "src" / "melanoflow"
    train = {str(path.relative_to(package)) for path in package_modules(scripts / "segment_train.py", package)}
    assert "segmentation/train.py" in train and "classification/train.py" not in train
    compare = {str(path.relative_to(package)) for path in package_modules(scripts / "evaluation_compare.py", package)}
    assert not any(name.startswith(("segmentation/", "classification/", "synthesis/")) for name in compare)
