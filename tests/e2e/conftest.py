"""The end-to-end tests' helpers: the tiny run's configs and a Snakemake runner (tests/tiny_run.py, whose
fixtures tests/conftest.py registers)."""

from tests.tiny_run import DEFAULT_CONFIG, REPO, SNAKEMAKE, TINY_CONFIGS, snakemake  # noqa: F401
