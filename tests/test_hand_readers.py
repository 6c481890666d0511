"""The search path reads pastes without `re` (a cold-start cost); each hand-written reader
must find exactly what the regular expression it stands for finds.

The expressions below are the specification. The corpus is every line of the public
evaluation set, every template of the catalogue, tricky cases, and seeded random lines
made of the characters that matter, so a run is the same every time.
"""

import random
import re
from pathlib import Path

import pytest
import yaml

from kb import tb, templates, textnorm
from kb.entries import load_catalogue
from kb.paths import entry_files

ROOT = Path(__file__).resolve().parent.parent

EXC = re.compile(
    r"^(?P<type>(?:[A-Za-z_][\w]*\.)*"
    r"(?:[A-Z]\w*(?:Error|Exception|Warning|Interrupt|Exit|Failure)|StopIteration|Error|Exception|Warning))"
    r"(?::\s?(?P<msg>.*))?$"
)
FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?')
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TOKEN = re.compile(r"[a-z0-9_]+")
NUMBER = re.compile(r"(?<![\w.])\d{3,}(?![\w.])")
HEXISH = re.compile(r"(?=[a-f]*\d)[0-9a-f]{8,}|0x[0-9a-fA-F]+")
CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")

TRICKY = [
    "RuntimeError: boom",
    "RuntimeError:",
    "RuntimeError:nospace",
    "RuntimeError:\ttab",
    "RuntimeError: a: b: c",
    "torch._C._LinAlgError: singular",
    "torch.OutOfMemoryError: CUDA out of memory.",
    "_pickle.UnpicklingError: Weights only load failed.",
    "Error",
    "Error: plain",
    "StopIteration",
    "KeyboardInterrupt",
    "Interrupt: bare suffix",
    "Exit: 0",
    "Failure",
    "SystemExit: 2",
    "fooError: lower case start",
    "x.yError: z",
    "a..bError: empty module",
    "1abc.FooError: digit module",
    "Ünïcode.FooError: unicode module",
    "FooÉrror: x",
    "RuntimeError (most recent call last)",
    "ValueError          Traceback (most recent call last)",
    'File "x.py", line 3, in <module>',
    '  File "/a b/c.py", line 12, in forward',
    '  File "x.py", line 3',
    '  File "x.py", line 3, in ',
    '  File "", line 3, in f',
    '  File "x.py", line x, in f',
    '  File "x.py", line 3a, in f',
    '\tFile "x.py", line ٣, in f',
    'File "a"b.py", line 3, in f',
    "Cell In[3], line 5",
    "<ipython-input-4-1a2b> in <module>()",
    "/x/torch/optim/sgd.py in __init__(self, params)",
    "for x in range(3):",
    "---> 363 torch.autograd.backward(",
    "   3 x = y",
    "-> 3 foo",
    "**RuntimeError: y**",
    "> `ValueError: z`",
    ">> > __init__ called",
    "x = a__b",
    "2024-05-01 12:00:00,123 ERROR RuntimeError: x",
    "[2024-05-01T12:00:00Z] x",
    "12:00:00.5 x",
    "[rank0]: RuntimeError: x",
    "[RANK 3] x",
    "INFO: x",
    "WARNING - x",
    "ERRORS everywhere",
    "foo.cc:123] x",
    "foo.cc:12a] x",
    "a:b:1] x",
    "E   RuntimeError: x",
    "E RuntimeError: x",
    "Expected something",
    "x[:, 0]",
    '"ename": "RuntimeError",',
    '  "evalue": "boom"',
    "出现“RuntimeError: 出错了”怎么办",
    'raise ValueError("bad thing")',
    "loss 65504 and -100 ignore_index 1.5e3 x123 123x 1234 v1.2.345 cuda:0 ٣٤٥",
    "e9ad59170ca6 0xdeadBEEF deadbeef1 abcdefab 0x TrainLoss retain_graph HTTPServer",
    "ABCd __init__ _x x_ a__b conv2d HTMLParserError IOError ÄBC naïve 3abc",
]

ALPHABET = "aAbEeFfilnrx_0129 .:\"'>*`-[]()\t\u00a0é错ErrorFile, line in Warning"


def _corpus() -> list[str]:
    cases = yaml.safe_load((ROOT / "tests" / "search_eval.yaml").read_text(encoding="utf-8"))
    lines = [line for case in cases for line in case["paste"].splitlines()]
    entries = load_catalogue([Path(p) for p in entry_files(ROOT / "entries")])
    lines += [t for e in entries for t in e.errors + e.older_errors + e.cause_errors]
    rng = random.Random(20261123)
    words = ["Error", "Warning", "File", '"', ", line ", ", in ", ":", ".", " ", "_", "0"]
    for _ in range(3000):
        pieces = [rng.choice(ALPHABET) if rng.random() < 0.6 else rng.choice(words)]
        pieces += [rng.choice(ALPHABET) if rng.random() < 0.6 else rng.choice(words)
                   for _ in range(rng.randrange(12))]  # fmt: skip
        lines.append("".join(pieces))
    return TRICKY + lines


CORPUS = _corpus()


def test_corpus_is_large_and_has_real_lines():
    assert len(CORPUS) > 4000
    assert any(EXC.match(line) for line in CORPUS) and any(FRAME.match(line) for line in CORPUS)


def test_exception_line_reads_what_the_regex_reads():
    for line in CORPUS:
        m = EXC.match(line)
        expected = (m.group("type"), m.group("msg")) if m else None
        assert tb.exception_line(line) == expected, line


def test_frame_line_reads_what_the_regex_reads():
    for line in CORPUS:
        m = FRAME.match(line)
        expected = (m.group("file"), int(m.group("line")), m.group("func")) if m else None
        assert tb.frame_line(line) == expected, line


@pytest.mark.parametrize(
    "might, pattern",
    [
        (tb._might_be_emphasised, tb._EMPHASIS),
        (tb._might_have_prefix, tb._PREFIX),
        (tb._might_be_old_frame, tb._OLD_IPY_FRAME),
        (tb._might_be_inline, tb._EXC_INLINE),
    ],
)
def test_quick_tests_never_skip_a_line_the_pattern_would_match(might, pattern):
    """A quick test may say yes too often (then the pattern decides), never no wrongly."""
    compiled = re.compile(pattern.source)
    for line in CORPUS:
        if compiled.search(line):
            assert might(line), line


def test_word_splitting_matches_the_regexes():
    for line in CORPUS:
        assert textnorm.identifiers(line) == IDENTIFIER.findall(line), line
        assert textnorm.tokens(line.lower()) == TOKEN.findall(line.lower()), line
        assert textnorm.numbers(line) == NUMBER.findall(line), line
        for word in IDENTIFIER.findall(line):
            assert textnorm._hexish(word) == bool(HEXISH.fullmatch(word)), word
            for chunk in word.split("_"):
                assert textnorm._camel_parts(chunk) == CAMEL.findall(chunk), chunk


CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


@pytest.mark.parametrize("loop", [True, False])
def test_chinese_runs_match_the_regex(loop, monkeypatch):
    # The loop serves short text in a process without `re`; pytest has imported it.
    monkeypatch.setattr(textnorm, "_loop_is_quicker", lambda text: loop)
    lines = CORPUS + ["显存一直增长", "边权 edge_weight 不是可学习的张量", "㐀䶿一鿿豈﫿", "ab中"]
    for line in lines + ["中文 text " * 1000]:
        assert textnorm.cjk_runs(line) == CJK.findall(line), line[:80]
        assert textnorm.has_cjk(line) == bool(CJK.search(line)), line[:80]
        assert textnorm.numbers(line) == NUMBER.findall(line), line[:80]


def _regex_for(template: str) -> re.Pattern[str]:
    """The `(.+?)` pattern a template stood for before the hand matcher."""
    pieces = []
    for piece in templates._split(templates.strip_ansi(template).strip()):
        pieces.append("(.+?)" if piece is None else re.escape(piece))
    pattern = re.sub(r" +", r"\\s+", "".join(pieces).replace(r"\ ", " "))
    return re.compile(pattern, re.DOTALL)


def test_template_matching_agrees_with_the_pattern_it_replaced():
    entries = load_catalogue([Path(p) for p in entry_files(ROOT / "entries")])
    all_templates = sorted({t for e in entries for t in e.errors + e.older_errors})
    messages = [(m.group("msg") or "").strip() for line in CORPUS if (m := EXC.match(line.strip()))]
    messages = [m for m in messages if m] + all_templates
    checked = 0
    for template in all_templates:
        pattern = _regex_for(template)
        for message in messages:
            assert templates.fullmatch(template, message) == bool(
                pattern.fullmatch(message.strip())
            ), (template, message)
            assert templates.occurs_in(template, message) == bool(pattern.search(message)), (
                template,
                message,
            )
            checked += 1
    assert checked > 10000
