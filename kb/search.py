"""Rank entries for a query, and read entries back out of the index.

Ranking, strongest signal first (the README's "How search works" tells the story):

1. the message template: a pasted exception line that matches an entry's `errors`
   template whole (variable parts aside) is that entry; a message inside prose, a cut-off
   one, one that starts like a template, or words that sit inside one count less; the
   exception type adds a little;
2. full-text relevance (FTS5 bm25) with weighted fields, over the message words when the
   paste holds an exception (so paths and source lines do not vote), or over typed words
   with phrases and coordination when it does not;
3. context: the rest of a traceback (the failing operations first), as a tie-breaker
   between look-alikes.

Scale: template candidates come from a full-text index, or for large catalogues from an
in-memory index of each template's rarest words; there, queries keep to the words that
tell entries apart, and messages ask for entries with all their words first.

Stdlib only, and on the common path not even `re` (see kb/lazyre.py): no torch, no
textual, no markdown parser, unless the index is stale and has to be rebuilt first.
"""

from __future__ import annotations

import os

from kb.db import sqlite3
from kb.readers import READERS
from kb.tb import Paste, read_paste
from kb.templates import first_line, fullmatch, occurs_in, strip_ansi
from kb.textnorm import (
    STOPWORDS,
    bounded,
    cjk_grams,
    fold,
    has_cjk,
    identifiers,
    numbers,
    tokens,
    words,
)

# bm25 weights, in index.FTS_COLUMNS order: title, errors_text, symptom, body, zh.
# A pasted message is compared with messages first; words typed to describe a symptom
# are compared with titles and symptoms first (messages are full of generic words).
FTS_WEIGHTS = (6.0, 10.0, 3.0, 1.0, 3.0)
SYMPTOM_WEIGHTS = (8.0, 2.0, 8.0, 1.0, 4.0)
TEMPLATE_WEIGHT = 100.0
FTS_WEIGHT = 10.0
# The rest of a traceback (frames, source lines, the user's own words) only breaks ties,
# such as between look-alike entries that share one message.
CONTEXT_WEIGHT = 3.0
SILENT_BOOST = 1.25
COORDINATE_MAX_TERMS = 16
COORDINATE_FLOOR = 0.3
# Word pruning by document frequency, for large catalogues only (see _prune_common).
PRUNE_FROM = 2000
PRUNE_SHARE = 0.2
PRUNE_KEEP = 4
PRUNE_MAX = 12
MAX_MESSAGES = 8
# Lines read under a header message: load_state_dict lists one line per kind of problem.
BODY_LINES = 4
# A line above the traceback longer than this is prose, not a copied message.
LEAD_LINE_CHARS = 300
TAIL_LINES = 3  # the last lines of a paste without a traceback, read as messages too
# Hits a search returns at most, whatever limit it is given: the full-text pool it ranks
# from is the best 50 rows, so hits beyond that would be ranked on partial evidence.
MAX_HITS = 50
MAX_TERMS = 48
TEMPLATE_CANDIDATES = 30
MEMORY_CANDIDATES = 25
RANK_AT_MOST = 4  # rare-word hits are precise: fewer need testing


class Hit:
    """One search result: what to print, and the score's parts for `--explain`.

    A plain class rather than a dataclass: importing dataclasses costs more than the
    whole search on a cold start.
    """

    __slots__ = ("id", "title", "kind", "score", "why", "parts", "match")

    def __init__(
        self,
        id: str,
        title: str,
        kind: str,
        score: float,
        why: str,
        parts: dict[str, float],
        match: str = "related",
    ) -> None:
        self.id = id
        self.title = title
        self.kind = kind
        self.score = score
        self.why = why
        self.parts = parts
        # How sure the match is: "exact" (a documented message matched whole, alone or
        # inside prose), "partial" (cut off, or most of a template), "related" (words only).
        self.match = match

    def as_dict(self, explain: bool = False) -> dict:
        out = {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "score": round(self.score, 3),
            "why": self.why,
            "match": self.match,
        }
        if explain:
            out["parts"] = {k: round(v, 3) for k, v in self.parts.items()}
        return out

    def __repr__(self) -> str:
        return f"Hit({self.id!r}, score={self.score:.2f}, match={self.match!r}, why={self.why!r})"


class _Signal:
    __slots__ = ("score", "why", "exact", "partial")

    def __init__(
        self, score: float = 0.0, why: str = "", exact: bool = False, partial: bool = False
    ) -> None:
        self.score = score
        self.why = why
        self.partial = partial
        self.exact = exact  # a template matched the whole message


def open_index(
    db: str | os.PathLike | None = None, folder: str | os.PathLike | None = None
) -> tuple[sqlite3.Connection, list]:
    """A read-only connection to a current index (rebuilt first if needed), and any
    entries the rebuild had to skip."""
    from kb.index import open_current

    return open_current(db, folder)


def close_index(conn: sqlite3.Connection) -> None:
    """Hand back a connection from open_index (it stays open for the next search)."""
    from kb.index import release

    release(conn)


def _messages(paste: Paste) -> list[tuple[str | None, str, str]]:
    """(exception type, message line, the lines after it) triples to hold against
    templates."""
    if paste.raised:
        # The last exception is the one that ended the program; chained ones come before.
        ordered = list(reversed(paste.raised))
        raised = [
            (r.type, r.message or first_line(r.detail), r.detail if r.message else "")
            for r in ordered
        ][:MAX_MESSAGES]
        return raised + _lead_lines(paste.text, raised)
    every = [ln.strip() for ln in paste.text.split("\n") if ln.strip()]
    # A log or a story told in prose ends with the error it ran into ("ERROR: No matching
    # distribution found for ..."): its last lines are read too, not only its first.
    tail = every[max(MAX_MESSAGES, len(every) - TAIL_LINES) :]
    lines = every[:MAX_MESSAGES] + tail
    # Each line with the next as what follows it: a header line is not the whole story.
    return [(None, ln, lines[i + 1] if i + 1 < len(lines) else "") for i, ln in enumerate(lines)]


def _lead_lines(text: str, raised: list) -> list[tuple[str | None, str, str]]:
    """The lines a paste opens with before its traceback, up to two: often the message
    itself, copied as the issue's title above a traceback whose own last line is a
    wrapper ("Caught RuntimeError in DataLoader worker process 0.") or was cut off."""
    out: list[tuple[str | None, str, str]] = []
    said = {msg for _, msg, _ in raised}
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if line.startswith(("Traceback", "File ", "During handling")) or any(
            msg and msg in line for msg in said
        ):
            break
        if len(line) <= LEAD_LINE_CHARS:
            out.append((None, line, ""))
        if len(out) == 2:
            break
    return out


def _wrapped(messages: list[tuple[str | None, str, str]]) -> list[tuple[str | None, str, str]]:
    """A message a terminal or logger wrapped onto the next line, joined back: with a
    space (wrapped between words) and without (wrapped inside one). The whole of a
    short paste with no exception line counts as one such message too."""
    out = []
    for etype, msg, detail in messages[:2]:
        following = first_line(detail)
        if following:
            out += [(etype, f"{msg} {following}", ""), (etype, msg + following, "")]
    if messages and messages[0][0] is None and 1 < len(messages) <= MAX_MESSAGES:
        out.append((None, " ".join(msg for _, msg, _ in messages), ""))
    return out


def _body_lines(messages: list[tuple[str | None, str, str]]) -> list[tuple[str | None, str, str]]:
    """The lines under a header message (`Error(s) in loading state_dict for Net:`), each
    as a message of the same exception: an entry documenting one of them ("size mismatch
    for {name}: ...") then matches it whole, not only the header that others share."""
    out = []
    for etype, msg, detail in messages[:2]:
        if etype and msg.rstrip().endswith(":") and detail:
            lines = [ln.strip() for ln in detail.split("\n") if ln.strip()]
            out += [(etype, ln, "") for ln in lines[:BODY_LINES]]
    return out


def _template_query(conn: sqlite3.Connection, terms: list[str]) -> list:
    rows: list = []
    # Templates that have every word are the candidates, however few: only the template
    # that fits the message is wanted, not a ranking of many.
    for expression, _ in _expressions(conn, terms, "templates_df")[:2]:
        try:
            rows = conn.execute(
                "select t.entry_id, t.template, t.exception, t.prefix, t.literals, "
                "t.literal_text from templates_fts join templates t "
                "on t.rowid = templates_fts.rowid "
                "where templates_fts match ? order by bm25(templates_fts) limit ?",
                (expression, TEMPLATE_CANDIDATES),
            ).fetchall()
        except sqlite3.OperationalError:
            return []
        if rows:
            break
    return rows


class _MemoryIndex:
    """Templates in memory, each filed under its two rarest fixed words.

    For large catalogues in a long-running process: finding a pasted message's templates
    becomes a few dictionary lookups instead of a full-text query over every template.
    After an incremental re-index only the changed rows are added and dropped.
    """

    def __init__(self, build: str) -> None:
        self.build = build  # which index build these rows come from
        self.stamp = ""  # which update of it
        self.rows: dict[int, object] = {}
        self.tokens: dict[int, set[str]] = {}
        self.filed: dict[int, list[str]] = {}
        self.df: dict[str, int] = {}
        self.by_word: dict[str, set[int]] = {}

    def refresh(self, conn: sqlite3.Connection, stamp: str) -> None:
        present = {r[0] for r in conn.execute("select rowid from templates")}
        for rowid in [r for r in self.rows if r not in present]:
            self._drop(rowid)
        new = [r for r in present if r not in self.rows]
        fresh = []
        for at in range(0, len(new), 500):
            chunk = new[at : at + 500]
            fresh += conn.execute(
                "select rowid, entry_id, template, exception, prefix, literals, literal_text "
                f"from templates where rowid in ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
        for row in fresh:
            found = set(tokens(row["literal_text"]))
            self.rows[row["rowid"]], self.tokens[row["rowid"]] = row, found
            for token in found:
                self.df[token] = self.df.get(token, 0) + 1
        # Filed after every count is in, so "rarest" is judged against the whole catalogue.
        for row in fresh:
            rowid = row["rowid"]
            rarest = sorted(self.tokens[rowid], key=lambda t: (self.df[t], t))[:2]
            self.filed[rowid] = rarest
            for token in rarest:
                self.by_word.setdefault(token, set()).add(rowid)
        self.stamp = stamp

    def _drop(self, rowid: int) -> None:
        for token in self.tokens.pop(rowid, ()):
            self.df[token] -= 1
        for token in self.filed.pop(rowid, ()):
            self.by_word.get(token, set()).discard(rowid)
        self.rows.pop(rowid, None)

    def candidates(self, tokens: list[str]) -> list:
        # A shared rare word counts for more than a shared common one.
        hits: dict[int, float] = {}
        for token in sorted(set(tokens)):  # a fixed order: the same sums in every process
            filed = self.by_word.get(token)
            if filed:
                weight = 1.0 / max(1, self.df.get(token, 1))
                for rowid in filed:
                    hits[rowid] = hits.get(rowid, 0.0) + weight
        best = sorted(hits, key=lambda r: (-hits[r], r))[:MEMORY_CANDIDATES]
        return [self.rows[r] for r in best]


_memory: dict[str, _MemoryIndex] = {}


def _memory_index(conn: sqlite3.Connection) -> _MemoryIndex | None:
    """The in-memory template index, for catalogues of PRUNE_FROM entries or more."""
    try:
        meta = dict(
            tuple(row)
            for row in conn.execute(
                "select key, value from meta where key in ('count', 'build', 'stamp')"
            )
        )
        if int(meta.get("count", 0)) < PRUNE_FROM:
            return None
        (db,) = [row[2] for row in conn.execute("pragma database_list") if row[1] == "main"]
    except (sqlite3.Error, ValueError):
        return None
    index = _memory.get(db)
    if index is None or index.build != meta.get("build"):
        index = _memory[db] = _MemoryIndex(meta.get("build", ""))
    if index.stamp != meta.get("stamp"):
        index.refresh(conn, meta.get("stamp", ""))
    return index


def _fts_match(terms: list[str], operator: str = "OR") -> str:
    # Every term is quoted, so nothing a user pastes can become FTS5 syntax; a term with a
    # space is a phrase (two words next to each other).
    return f" {operator} ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _phrases(text: str) -> list[str]:
    """Adjacent word pairs of a typed description ("eval mode", "zero_grad never"): an
    entry that has the pair as a phrase beats one that has the words scattered."""
    low = [t.lower() for t in identifiers(text)]
    pairs = []
    for a, b in zip(low, low[1:], strict=False):
        if len(a) > 1 and len(b) > 1 and a not in STOPWORDS and b not in STOPWORDS:
            pairs.append(f"{a} {b}")
    return pairs[:MAX_TERMS]


_PLAIN_PREFIXES = frozenset(("torch", "self", "np", "numpy", "os", "sys", "math", "e", "i"))


def _code_phrases(text: str) -> list[str]:
    """`F.dropout`, `nn.ModuleList`, `model.eval()` in a description, as phrases ("f
    dropout"): the code a reporter quotes names the API that misbehaves, short prefix
    included."""
    out = []
    for chunk in text.replace("(", " ").replace(")", " ").replace(",", " ").split():
        parts = [p for p in chunk.strip("`'\"[]:;=").split(".") if p]
        # `torch.rand`, `self.w`, `np.zeros`: the prefix says nothing, the name little.
        if (
            len(parts) == 2
            and all(p.isidentifier() for p in parts)
            and parts[0].lower() not in _PLAIN_PREFIXES
            and len(parts[1]) > 1
        ):
            phrase = f"{parts[0].lower()} {parts[1].lower()}"
            if phrase not in out:
                out.append(phrase)
    return out[:8]


def _template_signals(conn: sqlite3.Connection, paste: Paste) -> dict[str, _Signal]:
    """Score entries by how their message templates meet the pasted messages.

    Candidates come from an index over the templates' fixed words (full-text, or for a
    large catalogue an in-memory one of their rarest words), so the cost does not grow
    with the catalogue; only those few are tested exactly.
    """
    messages = [m for m in _messages(paste) if m[1]]
    messages += _body_lines(messages)
    signals: dict[str, _Signal] = {}
    text = " ".join(msg for _, msg, _ in messages)
    messages += _wrapped(messages)
    folded = [(etype, msg, bool(detail.strip()), fold(msg)) for etype, msg, detail in messages]
    folded = [(etype, msg, more, low, tokens(low)) for etype, msg, more, low in folded]
    terms = words(text, limit=MAX_TERMS)
    memory = _memory_index(conn)
    if memory is not None:
        _score_templates(memory.candidates(tokens(fold(text))), folded, signals)
        if any(sig.exact for sig in signals.values()):
            return signals  # the rare-word index found the message's templates
    terms = _prune_common(conn, terms, "templates_df")
    if terms:
        _score_templates(_template_query(conn, terms), folded, signals)
    return signals


# Copying a message loses or adds a final full stop or quote ("... out of bounds",
# "... is ambiguous。", `"...<lambda>'"`): that does not make it another message.
_TRAILING = " .\u3002!\uff01'\"`\u2019\u201d"
_SURE = ("message matches", "message contains")
_UNSURE = ("message matches most of", "message starts like", "header matches")


def _first_sentence(prefix: str) -> str:
    """A several-sentence message's first sentence, when it is long enough to tell."""
    head, dot, _ = prefix.partition(". ")
    return head if dot and len(head) >= 25 else ""


def _whole(template: str, msg: str) -> bool:
    """Is this message the template's, whole? Forgiving only what copying changes: the
    final punctuation, and a last `{...}` part the reporter's release printed empty."""
    if fullmatch(template, msg):
        return True
    bare, text = template.rstrip(_TRAILING), msg.rstrip(_TRAILING)
    if (bare != template or text != msg) and bare and fullmatch(bare, text):
        return True
    if bare.endswith("}") and not bare.endswith("}}"):
        head = bare[: bare.rfind("{")]
        return len(head.strip()) >= 15 and fullmatch(head.rstrip(), text)
    return False


def _score_templates(rows: list, folded: list, signals: dict[str, _Signal]) -> None:
    for row in rows:
        best = 0.0
        why = sure_why = ""
        exact = partial = False
        template = row["template"]
        literal = row["literal_text"]
        literal_words = _literal_tokens(literal)
        chunks = row["literals"].split("\x1f") if row["literals"] else []
        # A template ending in a colon documents a header; the lines under it (missing
        # and unexpected keys, say) tell one cause from another.
        header = template.rstrip().endswith(":")
        for etype, msg, more, low, low_words in folded:
            # Every fixed chunk must occur in the message before a regex is worth running.
            could_match = all(c.rstrip(_TRAILING) in low for c in chunks)
            # How much of the message the template's fixed words explain, in order: a
            # template whose `{...}` parts swallow telling words ("'target'") explains less.
            # Only a possible match, or a message mostly made of its words, needs to know.
            explained = 0.0
            if could_match or (len(low_words) >= 5 and _share_in(low_words, literal_words) >= 0.8):
                explained = _in_order(low_words, literal_words)
            plain = strip_ansi(msg)
            if could_match and _whole(template, plain):
                score = 1.0 + 0.1 * explained
                reason = "header matches" if header and more else "message matches"
            elif (
                could_match
                and len(literal) >= 15
                and (occurs_in(template, plain) or occurs_in(template.rstrip(_TRAILING), plain))
            ):
                # The whole message, with prose around it: `I get error: can't optimize...`
                score, reason = 0.95, "header matches" if header else "message contains"
            elif (tail := _tail(template)) and tail[1] in low and occurs_in(tail[0], plain):
                # All but a short prefix that another layer words differently ("CUDA
                # error: " vs "cudaCheckError() failed : ", "THCudaCheck FAIL ... : "):
                # the telling part came from the runtime, whole.
                score, reason = 0.85, "message matches most of"
            elif (
                explained >= (0.8 if etype else 0.9)
                and len(low_words) >= 5
                # A few common words ("No module named 'torch.nn'") are not most of a
                # long template: the words found must be a good part of it too.
                and explained * len(low_words) >= min(6, len(literal_words) / 3)
                and all(name in low for name in _quoted_names(template))
                and low_words[0] in literal_words
            ):
                # A cut-off paste, or an older release's shorter message: never above a
                # template found whole. (A line typed with no exception type in front
                # must be nearly all the template's words: prose shares many.)
                score, reason = 0.7 + 0.24 * explained, "message matches most of"
            elif (
                len(row["prefix"]) >= 12
                and (
                    2 * len(row["prefix"]) >= len(literal)
                    or (
                        len(row["prefix"]) >= 30
                        and all(name in low for name in _quoted_names(template))
                    )
                )
                and low.startswith(row["prefix"])
            ):
                # Cut off after the template's opening. A short opening that is less
                # than half the fixed text ("cuda runtime error (") is a wrapper that many
                # messages share: the rest decides, and it did not match. A long one
                # ("CUDA out of memory. Tried to allocate") is the message's own, unless
                # the message lacks a name the template quotes ('mat1' vs 'other').
                score, reason = 0.6, "message starts like"
            elif _first_sentence(row["prefix"]) and low.startswith(_first_sentence(row["prefix"])):
                # Quoted up to its first full stop ("Cannot find a working triton
                # installation in train.py"): a long message cut where a reader stops.
                score, reason = 0.6, "message starts like"
            elif len(low) >= 30 and row["prefix"].startswith(low.rstrip(_TRAILING)):
                # The template's own opening, cut where the paste ends ("Too many open
                # files. Communication with the workers is no longer possible."): the
                # message as far as it goes, word for word.
                score, reason = 0.6, "message starts like"
            elif len(low) >= 8 and literal and low in literal:
                score = 0.3 + 0.3 * min(1.0, len(low) / len(literal))
                reason = "words appear in"
            else:
                continue
            if etype and row["exception"] and etype == row["exception"].rsplit(".", 1)[-1]:
                score += 0.2
            # The message is all there (alone, or inside prose): a sure identification,
            # whichever of the pasted messages gave it.
            if reason in _SURE and not exact:
                exact, sure_why = True, f'{reason} "{_short(template)}"'
            partial = partial or reason in _UNSURE
            if score > best:
                best, why = score, f'{reason} "{_short(template)}"'
        if not best:
            continue
        known = signals.get(row["entry_id"])
        if known is None or best > known.score:
            # A sure reason another template gave stays the one shown.
            kept = known.why if known is not None and known.exact else why
            signals[row["entry_id"]] = _Signal(
                best,
                sure_why or kept,
                exact or (known is not None and known.exact),
                partial or (known is not None and known.partial),
            )
        elif exact and not known.exact:
            known.exact, known.why = True, sure_why
        elif partial:
            known.partial = True


_tails: dict[str, tuple[str, str] | None] = {}


def _tail(template: str) -> tuple[str, str] | None:
    """A template `Prefix: rest` whose prefix is a few words (`CUDA error`,
    `invalid argument 0`) and whose rest opens with 25 fixed characters or more: the rest,
    and that opening folded (which must occur in the message before the rest is tried)."""
    if template not in _tails:
        head, sep, rest = template.partition(": ")
        opening = rest.split("{", 1)[0]
        # A file name is no wrapper: `libc10.so: cannot open ...` is told from
        # `libcudart.so: cannot open ...` by it.
        named_file = any(mark in head for mark in (".so", ".dll", ".dylib", "/", "\\"))
        good = (
            sep
            and "{" not in head
            and not named_file
            and len(head.split()) <= 3
            and len(opening) >= 25
        )
        _tails[template] = (rest, fold(opening).strip()) if good else None
    return _tails[template]


_quoted: dict[str, list[str]] = {}


def _quoted_names(template: str) -> list[str]:
    """The fixed names a template quotes (`'zero_'`, `'target'`): what tells its message
    from others worded alike (`'NoneType' object has no attribute 'named_modules'`), so a
    message that lacks one is not most of it."""
    if template not in _quoted:
        parts = template.split("'")[1::2]
        _quoted[template] = [fold(p).strip() for p in parts if p and "{" not in p]
    return _quoted[template]


_literal_cache: dict[str, list[str]] = {}


def _literal_tokens(literal: str) -> list[str]:
    found = _literal_cache.get(literal)
    if found is None:
        if len(_literal_cache) >= 65536:
            _literal_cache.clear()
        found = _literal_cache[literal] = tokens(literal)
    return found


def _share_in(words_: list[str], template_words: list[str]) -> float:
    """The share of `words_` found in `template_words` in any order: a cheap upper bound
    of _in_order."""
    vocabulary = set(template_words)
    return len([word for word in words_ if word in vocabulary]) / len(words_)


def _in_order(words_: list[str], template_words: list[str]) -> float:
    """The share of `words_` found in `template_words` in the same order."""
    if not words_:
        return 0.0
    found, at = 0, 0
    for word in words_:
        try:
            at = template_words.index(word, at) + 1
        except ValueError:
            continue
        found += 1
    return found / len(words_)


def _short(text: str, width: int = 70) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _fts_terms(paste: Paste, query: str) -> list[str]:
    if paste.raised and any(r.message or r.detail for r in paste.raised):
        # The exception type itself is left out: half the catalogue says RuntimeError.
        basis = "\n".join(f"{r.message} {r.detail}" for r in paste.raised[-MAX_MESSAGES:])
    elif paste.raised:
        # A traceback cut off before its message: the failing calls are all there is.
        calls = paste.code + [frame.function for frame in paste.frames]
        basis = "\n".join([r.type for r in paste.raised] + calls)
    else:
        basis = paste.text
    terms = words(basis, limit=MAX_TERMS)
    if not paste.raised:
        # Typed words: numbers a user types are meant ("-100", "65504"); in a traceback
        # they are the user's own shapes and sizes, noise.
        terms += numbers(basis)[:4]
        terms += _phrases(basis)
    if has_cjk(query):
        grams = cjk_grams(basis, singles=False).split() or cjk_grams(basis).split()
        terms += grams[:MAX_TERMS]
    return terms


def _fts_signals(
    conn: sqlite3.Connection,
    terms: list[str],
    weights_for: tuple = FTS_WEIGHTS,
    coordinate: bool = False,
    only: list[str] | None = None,
    prose: bool = False,
) -> dict[str, float]:
    """bm25 relevance of entries to the terms, scaled so the best is 1.0: of the whole
    catalogue, or of the named entries only (`only`). `coordinate` (typed words): weigh
    each entry by the share of the words it has at all (`prose`: by their rarity too,
    however many there are)."""
    large = _large(conn)
    # Ranking a few named entries, the words are capped (which ones matters little).
    terms = terms[:PRUNE_MAX] if only and not large else _prune_common(conn, terms)
    if not terms:
        return {}
    weights = ", ".join(str(w) for w in weights_for)
    if only:
        ranks = _rank_named(conn, terms, weights, only, large)
    else:
        ranks, terms, every_word = _rank_best(conn, terms, weights, coordinate, large)
        # Rows that have every word need no counting of which words they have.
        if coordinate and ranks and not every_word and 1 < len(terms) <= COORDINATE_MAX_TERMS:
            # bm25 adds up per-word weights, so one rare word can outvote the rest of a
            # typed description.
            have = _words_present(conn, terms, list(ranks))
            floor = COORDINATE_FLOOR
            ranks = {k: r * (floor + (1 - floor) * have[k] / len(terms)) for k, r in ranks.items()}
        elif coordinate and ranks and prose and len(terms) > COORDINATE_MAX_TERMS:
            ranks = _coordinate_prose(conn, terms, ranks)
    if not ranks:
        return {}
    best = min(ranks.values()) or -1e-9
    marks = ",".join("?" * len(ranks))
    found = conn.execute(f"select rowid, id from entries where rowid in ({marks})", (*ranks,))
    ids = dict(tuple(row) for row in found)
    return {ids[k]: (rank / best if best else 0.0) for k, rank in ranks.items() if k in ids}


# A description written in whole sentences ("training runs without errors but the
# weights of one layer never change") is mostly words every entry has. Pairs of them
# ("during training", "use cuda") match by accident, and bm25 lets them outvote the few
# words that tell entries apart; so prose is ranked by its words, counted by rarity.
PROSE_FROM = 10  # words in a typed query (no traceback) before it counts as prose
PROSE_FLOOR = 0.3


# Words of a sentence's grammar, not of its subject. In a short query they are rare; in a
# paragraph there are a dozen, and each that happens to be in some entry's text ("should",
# "these", "within") pulls that entry up as much as a word that names the failure.
PROSE_STOPWORDS = frozenset(
    """about above again against all also am any because been before being below between
    both could did doing down during each few further had having he her here hers him his
    however into itself just let more most much must nor now off once only other our ours
    out over own she should so some such than their them then there these they those
    through too under until up very we which while who whom will within would e g eg ie etc
    seem seems think thought tried try trying want wanted please thanks hi hello
    following apart everything anything something nothing getting kept""".split()
)


def _prose_terms(terms: list[str], code_phrases: list[str]) -> list[str]:
    """The words of a long description without its grammar words, and the code it
    quotes (`F.dropout`) as phrases; the other word pairs are left out."""
    kept = [t for t in terms if " " not in t and t not in PROSE_STOPWORDS]
    return kept + [c for c in code_phrases if c not in kept]


def _coordinate_prose(conn: sqlite3.Connection, terms: list[str], ranks: dict) -> dict:
    """Weigh each entry by how much of a long description it shares, each word counted
    by how rare it is: sharing "softmax" says more than sharing "training"."""
    import math

    total = max(_entry_count(conn), 1)
    df = _document_frequencies(conn, terms, "entries_df")
    weight = {t: math.log(1 + total / (1 + df.get(t, 0))) for t in terms}
    whole = sum(weight.values()) or 1.0
    shared = dict.fromkeys(ranks, 0.0)
    for term in terms:
        try:
            rows = conn.execute(
                "select rowid from entries_fts where entries_fts match ?", (_fts_match([term]),)
            ).fetchall()
        except sqlite3.OperationalError:
            continue
        for (rowid,) in rows:
            if rowid in shared:
                shared[rowid] += weight[term]
    floor = PROSE_FLOOR
    return {k: r * (floor + (1 - floor) * shared[k] / whole) for k, r in ranks.items()}


def _bm25_sql(weights: str, where: str = "") -> str:
    return (
        f"select entries_fts.rowid as rowid, bm25(entries_fts, {weights}) as rank "
        f"from entries_fts where entries_fts match ?{where}"
    )


def _rank_best(
    conn: sqlite3.Connection, terms: list[str], weights: str, typed: bool, large: bool
) -> tuple[dict[int, float], list[str], bool]:
    """The 50 best rows: {rowid: bm25}, the words asked for, and whether every row has
    all of them."""
    sql = _bm25_sql(weights) + f" order by rank limit {MAX_HITS}"
    # Typed words are asked for as they are: requiring all of them first would rank the
    # entries that happen to have every word, not the ones that match them best.
    expressions = [(_fts_match(terms), terms)]
    if large and not typed:
        expressions = _expressions(conn, terms, "entries_df")
    rows: list = []
    asked: list[str] | None = terms
    for expression, words_ in expressions:
        try:
            rows = conn.execute(sql, (expression,)).fetchall()
        except sqlite3.OperationalError:
            return {}, terms, False
        asked = words_
        if len(rows) >= ENOUGH_ROWS:
            break
    return {row["rowid"]: row["rank"] for row in rows}, asked or terms, asked is None


def _rank_named(
    conn: sqlite3.Connection, terms: list[str], weights: str, ids: list[str], large: bool
) -> dict[int, float]:
    """{rowid: bm25} of the named entries (those that have any of the words)."""
    marks = ",".join("?" * len(ids))
    rowids = [r[0] for r in conn.execute(f"select rowid from entries where id in ({marks})", ids)]
    match = _fts_match(terms)
    try:
        if not large:
            # A few hundred matches at most: reading them all beats FTS5 looking up named
            # rows, which walks every word's postings once per row.
            wanted = set(rowids)
            rows = [r for r in conn.execute(_bm25_sql(weights), (match,)) if r[0] in wanted]
        else:
            # Thousands of matches: now the few named rows, one lookup each, are cheaper.
            rows = [
                row
                for rowid in rowids
                for row in conn.execute(_bm25_sql(weights, " and rowid = ?"), (match, rowid))
            ]
    except sqlite3.OperationalError:
        return {}
    return {row[0]: row[1] for row in rows}


def _words_present(conn: sqlite3.Connection, terms: list[str], rowids: list[int]) -> dict:
    """For each entry row, how many of the terms it has at all."""
    have = dict.fromkeys(rowids, 0)
    if not _large(conn):
        # One query per word, each a few hundred rows at most: exactly FTS5's matching.
        for term in terms:
            for (rowid,) in conn.execute(
                "select rowid from entries_fts where entries_fts match ?", (_fts_match([term]),)
            ):
                if rowid in have:
                    have[rowid] += 1
        return have
    # A large catalogue's common words have thousands of rows each; the candidates' own
    # text is read instead, and each word's stem looked for in it (`intermedi` in
    # "intermediate"): near enough to FTS5's porter matching to count words.
    stems = _stems([w for t in terms for w in t.split()])
    wanted = [[stems.get(w, w) for w in t.split()] for t in terms]
    marks = ",".join("?" * len(rowids))
    for row in conn.execute(
        f"select rowid, title, errors_text, symptom_text, zh from entries where rowid in ({marks})",
        rowids,
    ):
        text = " ".join(value or "" for value in tuple(row)[1:]).lower()
        have[row[0]] = sum(1 for parts in wanted if all(p in text for p in parts))
    return have


# In a large catalogue a word most entries share matches thousands of rows, and bm25 is
# computed for every match. So a query first asks for the entries that have all of its
# words (postings intersected: few rows), and only if too few do, for its rarest words.
ENOUGH_ROWS = 10
FALLBACK_TERMS = 4


def _expressions(
    conn: sqlite3.Connection, terms: list[str], frequencies: str
) -> list[tuple[str, list[str] | None]]:
    """FTS5 match expressions to try in turn, each with the words it asks for (None: all
    of them, every one required)."""
    if len(terms) < 2 or not _large(conn):
        return [(_fts_match(terms), terms)]
    df = _document_frequencies(conn, terms, frequencies)
    rarest = sorted(terms, key=lambda t: (df.get(t, 0), " " not in t))[:FALLBACK_TERMS]
    every = _fts_match(terms, "AND")
    return [(every, None), (_fts_match(rarest), rarest), (_fts_match(terms), terms)]


def _entry_count(conn: sqlite3.Connection) -> int:
    try:
        row = conn.execute("select value from meta where key = 'count'").fetchone()
        return int(row[0]) if row else 0
    except (sqlite3.Error, ValueError):
        return 0


def _large(conn: sqlite3.Connection) -> bool:
    """Is this a catalogue where per-query costs that grow with its size must be avoided?"""
    return _entry_count(conn) >= PRUNE_FROM


def _prune_common(
    conn: sqlite3.Connection, terms: list[str], frequencies: str = "entries_df"
) -> list[str]:
    """In a large catalogue, keep a query to the words that can tell entries apart: drop
    words no entry has (they match nothing) and words most entries have (they barely move
    bm25, and their long posting lists are most of a query's cost)."""
    total = _entry_count(conn)
    if total < PRUNE_FROM:
        return terms
    df = _document_frequencies(conn, terms, frequencies)
    known = [t for t in dict.fromkeys(terms) if df.get(t, 0) > 0]
    if len(known) <= PRUNE_KEEP:
        return known
    # A phrase is rarer than its rarer word: it goes first among equals.
    rarest = sorted(known, key=lambda t: (df[t], " " not in t))
    limit = PRUNE_SHARE * total
    keep = {t for t in rarest[:PRUNE_MAX] if df[t] <= limit}
    if len(keep) < PRUNE_KEEP:
        keep = set(rarest[:PRUNE_KEEP])
    # Order is kept for the phrase pairs' sake.
    return [t for t in known if t in keep]


def _document_frequencies(
    conn: sqlite3.Connection, terms: list[str], frequencies: str
) -> dict[str, int]:
    """How many entries (or templates) have each word, by its stem: 0 for a word the
    index has never seen. A phrase gets its rarer word's count (it has at most that)."""
    singles = list(dict.fromkeys(w for t in terms for w in t.split()))
    stems = _stems(singles)
    wanted = sorted(set(stems.values()))
    df: dict[str, int] = {}
    if wanted:
        marks = ",".join("?" * len(wanted))
        try:
            found = conn.execute(
                f"select term, doc from {frequencies} where term in ({marks})", wanted
            ).fetchall()
            df = dict(tuple(row) for row in found)
        except sqlite3.Error:
            return {}
    return {t: min(df.get(stems.get(w, ""), 0) for w in t.split()) for t in terms}


# One scratch connection per thread: SQLite connections belong to the thread that made
# them, and the TUI searches both on its event loop and in its search thread.
_stemmers: dict[int, sqlite3.Connection] = {}
_stem_cache: dict[str, str | None] = {}


def _stemmer() -> sqlite3.Connection:
    from _thread import get_ident

    conn = _stemmers.get(get_ident())
    if conn is None:
        if len(_stemmers) >= 8:  # threads come and go in a long-running process
            _stemmers.pop(next(iter(_stemmers))).close()
        conn = sqlite3.connect(":memory:")
        conn.execute("create virtual table q using fts5(t, tokenize='porter unicode61')")
        conn.execute("create virtual table qv using fts5vocab(q, 'instance')")
        _stemmers[get_ident()] = conn
    return conn


def _stems(terms: list[str]) -> dict[str, str]:
    """Each single-word term as the index's tokenizer stores it (porter), using SQLite's
    own tokenizer in a scratch in-memory table, so both sides agree exactly. Remembered
    per process: a long-running one sees the same words again and again."""
    new = [t for t in dict.fromkeys(terms) if " " not in t and t not in _stem_cache]
    if new:
        stemmer = _stemmer()
        with stemmer:
            stemmer.execute("delete from q")
            stemmer.executemany("insert into q(rowid, t) values (?, ?)", enumerate(new, 1))
            found = dict(stemmer.execute("select doc, term from qv").fetchall())
        if len(_stem_cache) > 65536:
            _stem_cache.clear()
        for at, word in enumerate(new, 1):
            _stem_cache[word] = found.get(at)  # None: no token in it at all
    return {t: _stem_cache[t] for t in terms if " " not in t and _stem_cache.get(t)}


def _word_in(term: str, low: str) -> bool:
    """The term as a word of the text, give or take a short ending ("predict" in
    "predicts"), as the index's stemmer matched it; not inside another word ("re" is no
    word of "predicts"), which would show the reader words that did not match."""
    if has_cjk(term):
        return term in low  # Chinese has no spaces between words
    # A short word takes no ending: "re" is not "read".
    ending = 3 if len(term) > 3 else 0
    at = low.find(term)
    while at >= 0:
        if not (at and low[at - 1].isalnum()):
            end = tail = at + len(term)
            while tail < len(low) and low[tail].isalnum() and tail - end <= ending:
                tail += 1
            if tail - end <= ending:
                return True
        at = low.find(term, at + 1)
    return False


def _matched_fields(row: sqlite3.Row, terms: list[str]) -> str:
    fields = (
        ("errors", row["errors_text"]),
        ("title", row["title"]),
        ("symptom", row["symptom_text"]),
        ("zh", row["zh"]),
        ("body", row["body"]),
    )
    parts = []
    for name, text in fields:
        low = (text or "").lower()
        hit = [t for t in terms if _word_in(t.lower(), low)]
        if hit:
            parts.append(f"{name} ({', '.join(hit[:4])})")
    return "words in " + ", ".join(parts[:3]) if parts else "related words"


def search(
    query: str,
    limit: int = 5,
    explain: bool = False,
    db: str | os.PathLike | None = None,
    folder: str | os.PathLike | None = None,
) -> tuple[list[Hit], list]:
    """Rank entries for a query (a message, a whole traceback, or symptom words)."""
    query = bounded(query)  # a pathological paste costs at most a fraction of a second
    conn, problems = open_index(db, folder)
    try:
        paste = read_paste(query)
        templates = _template_signals(conn, paste)
        terms = _fts_terms(paste, query)
        # FTS5 pays per named row, so only the few best template matches get ranked by
        # their words; a lower template score could not overtake them anyway.
        exact = sorted(
            (k for k, sig in templates.items() if sig.exact), key=lambda k: -templates[k].score
        )
        if len(exact) > RANK_AT_MOST:
            # Entries tied with the last one kept share its message: cutting among them
            # would leave one without any word score, whatever the paste says.
            floor = templates[exact[RANK_AT_MOST - 1]].score
            exact = [k for k in exact if templates[k].score >= floor]
        if paste.raised:
            # With a message that matches templates exactly, the words only order those
            # entries; asking the whole catalogue would cost more than the rest together.
            fts = _fts_signals(conn, terms, FTS_WEIGHTS, only=exact or None)
        else:
            # A traceback cut off before its message is not a description.
            prose = not paste.frames and len([t for t in terms if " " not in t]) >= PROSE_FROM
            if prose:
                terms = _prose_terms(terms, _code_phrases(paste.text))
            fts = _fts_signals(conn, terms, SYMPTOM_WEIGHTS, coordinate=True, prose=prose)
        context: dict[str, float] = {}
        if paste.raised:
            # Words of the exception types say nothing about which entry it is.
            types = set(words(" ".join(r.type for r in paste.raised)))
            # The failing operations first (the user's last line, the torch calls under
            # it), so a long paste's file paths and earlier frames cannot crowd them out.
            operations = words(" ".join(paste.operations()), limit=MAX_TERMS)
            extra = [
                t
                for t in dict.fromkeys(operations + words(paste.text, limit=MAX_TERMS * 2))
                if t not in terms and t not in types
            ]
            if has_cjk(paste.text):
                extra += cjk_grams(paste.text, singles=False).split()
            context = _fts_signals(conn, extra[:MAX_TERMS]) if extra else {}
        ids = set(templates) | set(fts)
        woken = any(trigger in query for trigger in READERS.values())
        if woken:
            from kb.readers import verdicts

            # An entry a reader points to competes even when another entry's template
            # took the words: the message's own parts name it.
            ids |= {entry_id for entry_id, _ in verdicts(query)}
        if not ids:
            return [], problems
        marks = ",".join("?" * len(ids))
        rows = {
            r["id"]: r
            for r in conn.execute(
                f"select id, title, kind from entries where id in ({marks})", list(ids)
            )
        }
        hits = []
        for entry_id in ids:
            row = rows.get(entry_id)
            if row is None:
                continue
            sig = templates.get(entry_id, _Signal())
            relevance = fts.get(entry_id, 0.0)
            if not paste.raised and row["kind"] != "error":
                # Words typed with no error message in them most often describe a failure
                # that raises nothing.
                relevance *= SILENT_BOOST
            parts = {
                "template": TEMPLATE_WEIGHT * sig.score,
                "text": FTS_WEIGHT * relevance,
                "context": CONTEXT_WEIGHT * context.get(entry_id, 0.0),
            }
            match = "exact" if sig.exact else "partial" if sig.partial else "related"
            hits.append(
                Hit(entry_id, row["title"], row["kind"], sum(parts.values()), sig.why, parts, match)
            )
        if woken:
            from kb.readers import weigh

            weigh(query, hits)
        hits.sort(key=lambda h: (-h.score, h.id))
        hits = hits[: min(limit, MAX_HITS)]
        unexplained = [h.id for h in hits if not h.why]
        if unexplained:  # wording the reason costs; only for what is shown
            marks = ",".join("?" * len(unexplained))
            texts = {
                r["id"]: r
                for r in conn.execute(
                    "select id, title, errors_text, symptom_text, zh, body from entries "
                    f"where id in ({marks})",
                    unexplained,
                )
            }
            for hit in hits:
                hit.why = hit.why or _matched_fields(texts[hit.id], terms)
        return hits, problems
    finally:
        close_index(conn)


def unexplained_message(query: str, hits: list[Hit]) -> str | None:
    """The exception line kb read (`Type: message`) when the paste holds one and no hit
    explains it (none is better than `related`); None otherwise.

    Front ends say so before listing the related entries: a words-only hit for a pasted
    message is a guess, not an answer.
    """
    if any(hit.match != "related" for hit in hits):
        return None
    raised = [r for r in read_paste(query).raised if r.message or r.detail]
    if not raised:
        return None
    # The last exception ended the program; a warning only if nothing was raised.
    errors = [r for r in raised if not r.warning] or raised
    last = errors[-1]
    return f"{last.type}: {last.message or first_line(last.detail)}"


def _load_record(problems: list) -> tuple[dict, dict]:
    """The verification matrix's record, and this machine's entries ({id: {device:
    record}}). A local record that is not what kb writes is left aside with a Notice in
    `problems`, never an error."""
    import json

    from kb import paths
    from kb.index import Notice
    from kb.proof import matrix_record

    where = paths.record_path()
    try:
        with open(where, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return matrix_record(), {}
    except (OSError, ValueError) as exc:
        problems.append(Notice(f"cannot read the verification record {where} ({exc})"))
        return matrix_record(), {}
    entries = data.get("entries") if isinstance(data, dict) else None
    good = isinstance(entries, dict) and all(
        isinstance(devices, dict) and all(isinstance(rec, dict) for rec in devices.values())
        for devices in entries.values()
    )
    if not good:
        problems.append(Notice(f"the verification record {where} is not one kb wrote; ignoring it"))
        return matrix_record(), {}
    return matrix_record(), entries


def _entry_dict(row: sqlite3.Row, records: tuple[dict, dict]) -> dict:
    import json

    from kb.proof import proof_digest, verification

    return {
        "id": row["id"],
        "title": row["title"],
        "kind": row["kind"],
        "area": row["area"],
        "exception": row["exception"],
        "errors": json.loads(row["errors"]),
        "older_errors": json.loads(row["older_errors"]),
        # The torch releases each older wording was printed on ("": not measured, any).
        "older_ranges": json.loads(row["older_ranges"]),
        "symptom": row["symptom"],
        "cause": row["cause"],
        "explanation": row["explanation"],
        "diagnose": row["diagnose"],
        "repro": row["repro"],
        "fix": row["fix"],
        "fix_text": row["fix_text"],
        "check": row["check_code"],
        "see_also": json.loads(row["see_also"]),
        "see_also_text": row["see_also_text"],
        "bandaids": json.loads(row["bandaids"]),
        "tags": json.loads(row["tags"]),
        "devices": json.loads(row["devices"]),
        "torch": row["torch"],
        "fixed_in": row["fixed_in"],
        "zh": {"title": row["zh_title"], "summary": row["zh_summary"]},
        "links": json.loads(row["links"]),
        "path": row["path"],
        "folder": os.path.dirname(row["path"]),
        "overrides": row["overrides"] or None,  # the same id's file in a later folder
        # A result recorded for another version of the entry proves nothing about it now.
        "verified": verification(row["id"], proof_digest(row["path"]), *records),
    }


def get_entry(entry_id: str, db: str | None = None) -> tuple[dict | None, list]:
    """One entry as a plain dict (the `kb show --json` shape), or None."""
    conn, problems = open_index(db)
    try:
        row = conn.execute("select * from entries where id = ?", (entry_id,)).fetchone()
        return (_entry_dict(row, _load_record(problems)) if row else None), problems
    finally:
        close_index(conn)


def list_entries(
    tag: str | None = None, kind: str | None = None, db: str | None = None
) -> tuple[list[dict], list]:
    """Entries (the `kb list --json` shape), optionally by tag and kind, sorted by id."""
    conn, problems = open_index(db)
    try:
        rows = conn.execute("select * from entries order by id").fetchall()
    finally:
        close_index(conn)
    verified = _load_record(problems)
    out = []
    for row in rows:
        item = _entry_dict(row, verified)
        if tag and tag not in item["tags"]:
            continue
        if kind and item["kind"] != kind:
            continue
        out.append(
            {
                key: item[key]
                for key in (
                    "id",
                    "title",
                    "kind",
                    "area",
                    "exception",
                    "errors",
                    "older_errors",
                    "older_ranges",
                    "symptom",
                    "tags",
                    "devices",
                    "torch",
                    "fixed_in",
                    "zh",
                    "links",
                    "see_also",
                    "path",
                    "folder",
                    "overrides",
                    "verified",
                    "bandaids",
                )
            }
        )
    return out, problems


def suggest_ids(entry_id: str, db: str | None = None) -> list[str]:
    """Ids close to a mistyped one."""
    import difflib

    conn, _ = open_index(db)
    try:
        ids = [r[0] for r in conn.execute("select id from entries")]
    finally:
        close_index(conn)
    close = difflib.get_close_matches(entry_id, ids, n=3, cutoff=0.5)
    close += [i for i in ids if entry_id and entry_id in i and i not in close]
    return close[:3]
