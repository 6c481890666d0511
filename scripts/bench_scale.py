"""Search at scale: a synthetic catalogue of N entries (default 10,000), generated in a
temporary folder from the real entries (new ids, titles and message words), never committed.

Prints: the full index build time, warm in-process search latency (median and p99) over
real error messages, and the time of the first search after one entry file changes
(which re-indexes only that file). Nothing here asserts; it reports figures.

Usage: python scripts/bench_scale.py [--entries 10000] [--searches 300]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "tests" / "search_eval.yaml"
WORDS = (
    "tensor gradient module layer batch shape device memory loss optimizer scheduler "
    "sampler encoder decoder attention embedding kernel stride channel buffer hook"
).split()


def synthesise(folder: Path, count: int, rng: random.Random) -> list[str]:
    """Write `count` entries; return real-looking queries built from their messages."""
    sources = sorted((ROOT / "entries").glob("*.md"))
    sources = [p for p in sources if p.name != "README.md"]
    queries = []
    for i in range(count):
        src = sources[i % len(sources)]
        text = src.read_text(encoding="utf-8")
        stem = src.stem
        new_id = f"{stem}-s{i}"
        word = f"{rng.choice(WORDS)}{i}"
        text = text.replace(f"id: {stem}\n", f"id: {new_id}\n", 1)
        text = re.sub(
            r'^title: "?', lambda m, w=word: f"{m.group(0)}{w} ", text, count=1, flags=re.M
        )
        # Vary each message so the catalogue holds 10k distinct templates, not 120 repeated.
        text = re.sub(r'^(  - ")', lambda m, w=word: f"{m.group(1)}{w} ", text, count=1, flags=re.M)
        (folder / f"{new_id}.md").write_text(text, encoding="utf-8")
        m = re.search(r'^  - "(.*)"$', text, flags=re.M)
        exc = re.search(r"^exception: (\S+)$", text, flags=re.M)
        if m and exc:
            # As a user pastes it: `RuntimeError: <the message, with their own values>`.
            message = re.sub(r"\{[^{}]*\}", "7", m.group(1)).replace('\\"', '"')
            queries.append(f"{exc.group(1)}: {message}")
    return queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--searches", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(0)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "entries"
        folder.mkdir()
        db = Path(tmp) / "index.db"
        os.environ["KB_ENTRIES"], os.environ["KB_DB"] = str(folder), str(db)
        os.environ["KB_BUNDLED"] = "0"
        start = time.perf_counter()
        queries = synthesise(folder, args.entries, rng)
        print(f"generated {args.entries} entries in {time.perf_counter() - start:.1f} s")

        from kb.index import build_index
        from kb.search import search

        start = time.perf_counter()
        count, problems = build_index(db, folder)
        print(
            f"full index build: {time.perf_counter() - start:.2f} s ({count} entries, "
            f"{len(problems)} skipped), {db.stat().st_size / 1e6:.1f} MB"
        )

        search("warm up")
        sampled = rng.sample(queries, min(args.searches, len(queries)))
        # The evaluation set's pastes as users sent them: whole tracebacks, typed words,
        # Chinese symptoms.
        pastes = [case["paste"] for case in yaml.safe_load(EVAL.read_text(encoding="utf-8"))]
        # What each finds first in the real catalogue: a large catalogue takes shortcuts
        # (rarest words only), and this shows what they cost.
        reference = {}
        for paste in pastes:
            hits, _ = search(paste, db=Path(tmp) / "real.db", folder=ROOT / "entries")
            reference[paste] = hits[0].id if hits else None
        agree = 0
        for paste in pastes:
            hits, _ = search(paste)
            # A synthetic entry `<id>-s<n>` is a copy of the real entry `<id>`.
            agree += bool(hits) and hits[0].id.rsplit("-s", 1)[0] == reference[paste]
        print(
            f"evaluation-set pastes whose first hit is the real catalogue's first hit: "
            f"{agree}/{len(pastes)}"
        )
        for name, batch in (("messages", sampled), ("evaluation-set pastes", pastes)):
            for query in batch[:20]:
                search(query)
            times = []
            for query in batch:
                start = time.perf_counter()
                search(query)
                times.append(time.perf_counter() - start)
            times.sort()
            p99 = times[max(0, int(len(times) * 0.99) - 1)]
            print(
                f"warm search, {name}: median {statistics.median(times) * 1000:.2f} ms, "
                f"p99 {p99 * 1000:.2f} ms, max {times[-1] * 1000:.2f} ms over {len(times)}"
            )

        # One file changes; the next search (past the in-process recheck interval) updates
        # it. Five edits, each to a different file, since one timing is one sample.
        from kb import index

        after_edit = []
        for target in rng.sample(sorted(folder.glob("*.md")), 5):
            time.sleep(index.recheck_seconds(args.entries))
            target.write_text(
                target.read_text(encoding="utf-8").replace("## Cause", "## Cause\n\nEdited.", 1),
                encoding="utf-8",
            )
            start = time.perf_counter()
            search("edited entry")
            after_edit.append(time.perf_counter() - start)
        print(
            "first search after one file changed (re-indexes it): "
            f"median {statistics.median(after_edit) * 1000:.1f} ms, "
            f"max {max(after_edit) * 1000:.1f} ms over {len(after_edit)} edits"
        )


if __name__ == "__main__":
    sys.exit(main())
