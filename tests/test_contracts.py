"""docs/contracts.md describes every table of melanoflow.tables.CONTRACTS, and schemas live only there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from melanoflow import tables
from melanoflow.tables import CONTRACTS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "contracts.md"


def doc_rows() -> dict[str, str]:
    """The contracts table's rows by their first cell (the file column)."""
    rows = {}
    for line in DOC.read_text().splitlines():
        if line.startswith("| `"):
            cells = line.split(" | ")
            rows[cells[0].lstrip("| ")] = line
    return rows


def schema_name(contract) -> str:
    names = [name for name, value in vars(tables).items() if value is contract.schema]
    return f"melanoflow.tables.{names[0]}" if names else "melanoflow.tables.predictions_schema"


@pytest.mark.parametrize("table", sorted(CONTRACTS))
def test_doc_names_every_table_with_its_columns(table):
    contract = CONTRACTS[table]
    rows = [row for cell, row in doc_rows().items() if f"`{contract.path}`" in cell]
    assert len(rows) == 1, f"docs/contracts.md has {len(rows)} rows for {contract.path}"
    row = rows[0]
    assert schema_name(contract) in row
    missing = [name for name in contract.schema.names if name not in row]
    assert not missing, f"docs/contracts.md's row for {contract.path} does not name {missing}"
    assert contract.meaning


def test_schemas_are_declared_in_one_module():
    declaring = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "src").rglob("*.py")
                       if "pa.schema(" in path.read_text())
    assert declaring == ["src/melanoflow/tables.py"]


def test_contracts_module_imports_no_torch():
    code = "import sys, melanoflow.tables; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
