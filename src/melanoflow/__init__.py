"""melanoflow: melanoma classification on small, dirty, imbalanced dermoscopy data.

The library behind the Snakemake workflow: every stage lives in its own subpackage and is usable (and
tested) without Snakemake.
"""

__version__ = "0.1.0"
