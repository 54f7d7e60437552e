"""What a run without its models tells the user: the missing file and the snakemake target that makes it."""

import pytest

from melanoflow.predict.artefacts import MissingArtefactError, locate_run


@pytest.mark.parametrize("results", ["results", "results/trap"])
def test_the_target_is_in_the_runs_own_results_folder(tmp_path, monkeypatch, results):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingArtefactError) as error:
        locate_run(results, "proposed")
    assert f"snakemake --configfile <the run's config> {results}/models/predict.json" in str(error.value)
