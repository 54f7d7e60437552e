"""The predict command's start-up stays light: it imports neither scikit-learn nor pyplot (about 1.5 s of a
2-core machine's start, paid for every call)."""

import subprocess
import sys

HEAVY = ("sklearn", "matplotlib.pyplot")


def test_predict_imports_no_metrics_or_plotting_libraries():
    code = (
        "import sys, melanoflow.cli, melanoflow.predict.run, melanoflow.predict.outputs\n"
        f"print(' '.join(name for name in {HEAVY!r} if name in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert loaded == []
