"""Whatever a user pastes, the traceback reader and search answer without an exception,
and `kb search --json` prints valid JSON. Examples are generated (hypothesis) from real
tracebacks, random Unicode, control characters and mixed scripts; scripts/fuzz_search.py
runs 10,000 of them through search and reports the slowest."""

from __future__ import annotations

import io
import json
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.cli import main
from kb.search import search
from kb.tb import read_paste
from kb.textnorm import bounded, words
from tests.pastes import paste_from_seed, pastes

# Deterministic (the same examples every run: CI never flakes), no example database
# left in the checkout, and no per-example deadline: times are the script's to report.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(FUZZ, max_examples=1_000)
@given(st.integers(0, 2**63 - 1))
def test_the_traceback_reader_takes_any_paste(seed):
    # Ten pastes per example: 10,000 in all, at a tenth of hypothesis's own overhead.
    for n in range(10):
        text = paste_from_seed(seed + n)
        paste = read_paste(bounded(text))
        assert isinstance(paste.text, str)
        for raised in paste.raised:
            assert isinstance(raised.type, str) and isinstance(raised.message, str)
        assert all(isinstance(op, str) for op in paste.operations())
        assert all(isinstance(w, str) and w for w in words(paste.text))


@settings(FUZZ, max_examples=60)
@given(pastes())
def test_search_and_its_json_take_any_paste(text):
    hits, _ = search(text, limit=5)
    for hit in json.loads(json.dumps([h.as_dict(True) for h in hits], ensure_ascii=False)):
        assert set(hit) >= {"id", "title", "kind", "score", "why", "match"}


@settings(FUZZ, max_examples=40)
@given(pastes(with_huge=False))
def test_kb_search_json_prints_valid_json(text):
    # Output caught by hand: pytest's capsys is per test, not per generated example.
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = main(["search", "--json", "--", text or " "])
    finally:
        sys.stdout, sys.stderr = saved
    assert code == 0, err.getvalue()
    assert isinstance(json.loads(out.getvalue()), list)
    assert "internal error" not in err.getvalue()
