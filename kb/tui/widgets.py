"""The query box and the results list: the two widgets the first frame needs."""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

from kb.tui.view import match_label

# Shown in place of ESC, so a pasted colour code reads as text instead of being sent to
# the terminal (or dropped); the search reads it back as ESC and strips the colours.
ESC_SHOWN = "␛"
# A paste bigger than this keeps only its end, as `kb search -` does: the exception lines
# are at the bottom of a traceback, and the box stays responsive.
MAX_PASTE_CHARS = 1_200_000


def shown_text(text: str) -> str:
    """A paste as the box shows it: ESC visible, other control characters dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x1b", ESC_SHOWN)
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        text = "".join(c for c in text if ord(c) >= 32 or c in "\n\t")
    return text


def query_text(shown: str) -> str:
    """The box's text as the search reads it."""
    return shown.replace(ESC_SHOWN, "\x1b")


class QueryBox(TextArea):
    """A multi-line box: a whole traceback pasted in stays whole (an Input keeps one line)."""

    BINDINGS = [
        Binding("escape", "clear", "Clear", show=False),
    ]

    class Leave(Message):
        """Down on the last line: the user wants the results."""

    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(
            shown_text(text),
            placeholder="e.g. RuntimeError: element 0 of tensors does not require grad",
            soft_wrap=False,
            tab_behavior="focus",
            show_line_numbers=False,
            compact=True,
            **kwargs,
        )

    async def _on_paste(self, event) -> None:
        if self.read_only:
            return
        event.prevent_default()
        event.stop()
        text = event.text
        if len(text) > MAX_PASTE_CHARS:
            text = text[-MAX_PASTE_CHARS:]
        if result := self._replace_via_keyboard(shown_text(text), *self.selection):
            self.move_cursor(result.end_location)
            self.focus()

    def action_cursor_down(self, select: bool = False) -> None:
        if not select and self.cursor_location[0] >= self.document.line_count - 1:
            self.post_message(self.Leave())
            return
        super().action_cursor_down(select)

    def action_clear(self) -> None:
        self.clear()


def hit_prompt(hit, zh_title: str = "") -> Content:
    """Two lines for one result: how sure, the title; then id, kind and why it matched.

    Content built from plain strings, never from markup: titles and reasons quote error
    messages, which are full of square brackets.
    """
    label = match_label(hit.match)
    style = {"exact": "bold $success", "partial": "bold $warning"}.get(hit.match, "$text-muted")
    title = zh_title or hit.title
    return Content.assemble(
        (f"{label:<15}", style),
        " ",
        (title, "bold"),
        "\n",
        (f"{'':<16}{hit.id} · {hit.kind} · {hit.why}", "$text-muted"),
    )


def row_prompt(row: dict, zh: bool = False) -> Content:
    """One catalogue entry when browsing by filter (nothing was searched)."""
    title = row["zh"]["title"] if zh and row["zh"]["title"] else row["title"]
    return Content.assemble(
        (title, "bold"),
        "\n",
        (f"{row['id']} · {row['kind']} · {row.get('area') or ''}", "$text-muted"),
    )


class ResultList(OptionList):
    """The ranked entries; letter keys act on the highlighted one."""

    BINDINGS = [
        Binding("enter", "select", "Open", show=True),
        Binding("c", "app.copy_fix", "Copy fix"),
        Binding("i", "app.copy_id", "Copy id"),
        Binding("r", "app.prove", "Run proof"),
        Binding("f", "app.filters", "Filter"),
        Binding("z", "app.toggle_zh", "中文"),
        Binding("slash", "app.focus_query", "Query", show=False),
        Binding("question_mark", "app.help", "Help", show=False),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def set_rows(self, options: list[Option], highlight: bool = True) -> None:
        self.clear_options()
        self.add_options(options)
        self.highlighted = 0 if options and highlight else None
