from pathlib import Path

from actors.config_docs import render


def test_configuration_reference_is_up_to_date():
    doc = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    assert doc.read_text() == render(), "run: python -m actors.config_docs > docs/configuration.md"
