"""docs/reliability.md: each run replaces only the sections it measured."""

from __future__ import annotations

from roulette.lab.report import merge_document

OLD = (
    "# Reliability figures\n\nold faults table\n\n"
    "## Soak: 30 minutes\n\nold soak\n\n## Not measured\n\nold\n"
)
TAIL = "\n## Not measured\n\nnew\n"


def test_a_fault_run_keeps_the_soak_section() -> None:
    text = merge_document(OLD, "# Reliability figures\n\nnew faults\n", None, TAIL)
    assert "new faults" in text and "old faults" not in text
    assert "## Soak: 30 minutes\n\nold soak\n" in text
    assert text.endswith(TAIL) and text.count("## Not measured") == 1


def test_a_soak_run_keeps_the_fault_table() -> None:
    text = merge_document(OLD, None, "\n## Soak: 30 minutes\n\nnew soak\n", TAIL)
    assert "old faults table" in text and "new soak" in text and "old soak" not in text
    assert text.count("## Soak") == 1


def test_a_first_run_starts_from_nothing() -> None:
    text = merge_document("", "# Reliability figures\n\nfaults\n", None, TAIL)
    assert text == "# Reliability figures\n\nfaults\n" + TAIL
