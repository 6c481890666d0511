"""Hypothesis strategies for what users paste: real tracebacks from the search evaluation
set, mutated; random Unicode with control characters; mixed scripts; huge lines. Shared by
tests/test_fuzz.py and scripts/fuzz_search.py."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import strategies as st

EVAL = Path(__file__).resolve().parent / "search_eval.yaml"
REAL = [case["paste"] for case in yaml.safe_load(EVAL.read_text(encoding="utf-8"))]

# Characters a terminal or a copy from a web page puts in a paste.
CONTROLS = [chr(c) for c in range(0x20)] + ["\x7f", "\x85", "\u2028", "\u2029", "\ufeff"]
ANSI = ["\x1b[31m", "\x1b[0m", "\x1b[1;33m", "\x1b]8;;http://x\x1b\\", "\x1b[2K\r"]
SCRIPTS = [
    "显存一直增长损失不下降梯度为空",  # Chinese
    "ошибка градиента тензор",  # Cyrillic
    "خطأ في التدرج",  # Arabic (right to left)
    "勾配がありません",  # Japanese
    "그래디언트 오류",  # Korean
    "🔥💥🐍✨",  # emoji
    "e\u0301a\u0308\u200d\u200b\u202e",  # combining marks, joiners, bidi override
    "𝐑𝐮𝐧𝐭𝐢𝐦𝐞𝐄𝐫𝐫𝐨𝐫",  # mathematical bold (folds to ASCII under NFKC)
]

real = st.sampled_from(REAL)
PIECES = CONTROLS + ANSI + SCRIPTS
noise = st.lists(st.one_of(st.characters(), st.sampled_from(PIECES)), max_size=40).map("".join)


MUTATIONS = ("insert", "delete", "duplicate", "truncate", "crlf", "replace", "case", "ansi")


def mutate(text: str, seed: int, extra: str) -> str:
    """A real paste changed one to four times the way copying and editing change it,
    each change chosen by `seed`; `extra` is inserted text of hypothesis's own. (Few
    draws per example keep 10,000 examples cheap to generate.)"""
    import random

    rng = random.Random(seed)
    for _ in range(rng.randint(1, 4)):
        how = rng.choice(MUTATIONS)
        at = rng.randint(0, len(text))
        if how == "insert":
            text = text[:at] + rng.choice([extra, rng.choice(PIECES)]) + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + rng.randint(0, 200) :]
        elif how == "duplicate":
            lines = text.split("\n")
            n = rng.randrange(len(lines))
            lines[n:n] = [lines[n]] * rng.randint(1, 50)
            text = "\n".join(lines)
        elif how == "truncate":
            text = text[:at]
        elif how == "crlf":
            text = text.replace("\n", "\r\n")
        elif how == "replace":
            lines = text.split("\n")
            lines[rng.randrange(len(lines))] = extra
            text = "\n".join(lines)
        elif how == "case":
            text = text.upper() if rng.random() < 0.5 else text.swapcase()
        else:
            text = text[:at] + rng.choice(ANSI) + text[at:]
    return text


short_noise = st.text(st.characters(), max_size=40)
mutated = st.builds(mutate, real, st.integers(0, 2**32 - 1), short_noise)


@st.composite
def huge(draw) -> str:
    """One enormous line (a word repeated, a tensor printed whole) or very many lines."""
    word = draw(st.sampled_from(["memory grows every epoch ", "x", "RuntimeError: ", "显存"]))
    times = draw(st.sampled_from([10_000, 100_000, 1_000_000]))
    sep = draw(st.sampled_from(["", "\n"]))
    return sep.join([word] * times) + draw(st.sampled_from(["", REAL[0]]))


@st.composite
def mixed(draw) -> str:
    """Real text and other scripts interleaved."""
    parts = draw(st.lists(st.one_of(real, st.sampled_from(SCRIPTS), short_noise), max_size=6))
    return draw(st.sampled_from(["", "\n", " "])).join(parts)


def pastes(with_huge: bool = True) -> st.SearchStrategy[str]:
    """Every kind of paste; huge ones are rare (and left out where time is short)."""
    kinds = [mutated, noise, mixed(), real]
    if with_huge:
        kinds.append(huge())
    return st.one_of(*kinds)


def paste_from_seed(seed: int, with_huge: bool = False) -> str:
    """One paste of any kind, made in plain Python from `seed`: hypothesis draws a single
    integer per example, so 10,000 examples cost seconds rather than minutes."""
    import random

    rng = random.Random(seed)

    def random_text(size: int) -> str:
        out = []
        for _ in range(size):
            pick = rng.random()
            if pick < 0.1:
                out.append(rng.choice(PIECES))
            elif pick < 0.5:
                out.append(chr(rng.randint(0x20, 0x7E)))
            else:  # anywhere in Unicode, surrogates and unassigned points included
                out.append(chr(rng.randint(0, 0x10FFFF)))
        return "".join(out)

    kind = rng.random()
    if kind < 0.5:
        return mutate(rng.choice(REAL), rng.getrandbits(32), random_text(rng.randint(0, 40)))
    if kind < 0.7:
        return random_text(rng.randint(0, 400))
    if kind < 0.9:
        parts = [rng.choice([rng.choice(REAL), rng.choice(SCRIPTS), random_text(20)])]
        parts += [rng.choice(SCRIPTS + REAL) for _ in range(rng.randint(0, 5))]
        return rng.choice(["", "\n", " "]).join(parts)
    if with_huge and kind > 0.99:
        word = rng.choice(["memory grows every epoch ", "x", "RuntimeError: ", "显存"])
        return rng.choice(["", "\n"]).join([word] * rng.choice([10_000, 100_000, 1_000_000]))
    return rng.choice(REAL)


seeded = st.integers(0, 2**63 - 1).map(paste_from_seed)
