"""Recall and precision of the DAG on a labelled corpus of data-science notebooks.

``tests/data/notebooks/corpus/`` holds notebooks written for this test in the styles of
everyday data-science work (pandas cleaning, scikit-learn tutorials, plotting, profiling
with magics, files handed between cells, seeded simulations, SQL over frames…). Beside each
``NAME.ipynb``, ``NAME.deps.json`` lists its dependencies as labelled by hand: for every
cell, each earlier cell it depends on and what flows (Python names, or state such as
``file:work/raw.csv``, ``random:numpy``, ``magic:lprun``). A dependency is what the cell
reads of the version an earlier cell made: bound the name, changed it in place (also
through an alias or a function it called), wrote the file, drew from the seeded generator.

The DAG's data edges (``kind: data``) are compared with the labels, by pair of cells and by
(pair, name). Ordering edges are not dependencies and are not counted. The report prints
with ``python tests/notebooks/test_corpus.py`` (or ``pytest -s``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jupyter_flows.notebooks import FlowSpec, inspect_path

CORPUS = Path(__file__).resolve().parents[1] / "data" / "notebooks" / "corpus"
RECALL_GOAL = 0.99
PRECISION_GOAL = 0.97

Triple = tuple[str, str, str]


@dataclass
class Score:
    """Counts for one notebook (or the whole corpus): pairs of cells and (pair, name)."""

    expected_pairs: set[tuple[str, str]] = field(default_factory=set)
    found_pairs: set[tuple[str, str]] = field(default_factory=set)
    expected_names: set[Triple] = field(default_factory=set)
    found_names: set[Triple] = field(default_factory=set)

    def add(self, other: Score, prefix: str) -> None:
        self.expected_pairs |= {(f"{prefix}/{s}", f"{prefix}/{t}") for s, t in other.expected_pairs}
        self.found_pairs |= {(f"{prefix}/{s}", f"{prefix}/{t}") for s, t in other.found_pairs}
        self.expected_names |= {
            (f"{prefix}/{s}", f"{prefix}/{t}", n) for s, t, n in other.expected_names
        }
        self.found_names |= {(f"{prefix}/{s}", f"{prefix}/{t}", n) for s, t, n in other.found_names}

    @staticmethod
    def _ratio(part: int, whole: int) -> float:
        return part / whole if whole else 1.0

    @property
    def recall(self) -> float:
        return self._ratio(len(self.expected_pairs & self.found_pairs), len(self.expected_pairs))

    @property
    def precision(self) -> float:
        return self._ratio(len(self.expected_pairs & self.found_pairs), len(self.found_pairs))

    @property
    def name_recall(self) -> float:
        return self._ratio(len(self.expected_names & self.found_names), len(self.expected_names))

    @property
    def name_precision(self) -> float:
        return self._ratio(len(self.expected_names & self.found_names), len(self.found_names))


def notebooks() -> list[Path]:
    return sorted(CORPUS.glob("*.ipynb"))


def score(path: Path) -> Score:
    labels = json.loads(path.with_suffix(".deps.json").read_text())
    spec = inspect_path(path)
    result = Score()
    for dep in labels["dependencies"]:
        result.expected_pairs.add((dep["source"], dep["target"]))
        result.expected_names |= {(dep["source"], dep["target"], n) for n in dep["names"]}
    for source, target, names in data_edges(spec):
        result.found_pairs.add((source, target))
        result.found_names |= {(source, target, n) for n in names}
    return result


def data_edges(spec: FlowSpec) -> Iterator[tuple[str, str, list[str]]]:
    """(source cell, target cell, what flows) of each data edge, cells named by id."""
    cell_of = {t.key: t.cell_ids[0] for t in spec.tasks}
    for edge in spec.edges:
        if edge.kind == "data":
            yield cell_of[edge.source], cell_of[edge.target], [*edge.names, *edge.state]


def corpus_score() -> tuple[Score, dict[str, Score]]:
    total, each = Score(), {}
    for path in notebooks():
        each[path.stem] = score(path)
        total.add(each[path.stem], path.stem)
    return total, each


def report(total: Score, each: dict[str, Score]) -> str:
    lines = [
        f"{'notebook':<22} {'deps':>5} {'recall':>7} {'precision':>9} {'names R':>8} {'names P':>8}"
    ]
    for name, one in each.items():
        lines.append(
            f"{name:<22} {len(one.expected_pairs):>5} {one.recall:>7.3f} {one.precision:>9.3f} "
            f"{one.name_recall:>8.3f} {one.name_precision:>8.3f}"
        )
    lines.append(
        f"{'corpus':<22} {len(total.expected_pairs):>5} {total.recall:>7.3f} "
        f"{total.precision:>9.3f} {total.name_recall:>8.3f} {total.name_precision:>8.3f}"
    )
    missed = sorted(total.expected_names - total.found_names)
    extra = sorted(total.found_names - total.expected_names)
    lines += [f"  missed {s} -> {t}: {n}" for s, t, n in missed]
    lines += [f"  extra  {s} -> {t}: {n}" for s, t, n in extra]
    return "\n".join(lines)


def test_the_corpus_is_big_enough_and_labelled() -> None:
    assert len(notebooks()) >= 20
    for path in notebooks():
        labels = json.loads(path.with_suffix(".deps.json").read_text())
        assert labels["notebook"] == path.name and labels["dependencies"], path.name


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_every_labelled_cell_is_a_task(path: Path) -> None:
    spec = inspect_path(path)
    cells = {c for t in spec.tasks for c in t.cell_ids}
    labels = json.loads(path.with_suffix(".deps.json").read_text())
    for dep in labels["dependencies"]:
        assert {dep["source"], dep["target"]} <= cells, dep


def test_recall_and_precision_on_the_corpus() -> None:
    total, each = corpus_score()
    text = report(total, each)
    print("\n" + text)
    assert total.recall >= RECALL_GOAL, text
    assert total.name_recall >= RECALL_GOAL, text
    assert total.precision >= PRECISION_GOAL, text


if __name__ == "__main__":
    print(report(*corpus_score()))
