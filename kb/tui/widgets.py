"""The query box and the results list: the two widgets the first frame needs."""

from __future__ import annotations

import re
from collections.abc import Callable

from rich.segment import Segment
from textual import work
from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option
from textual.widgets.text_area import Edit, EditResult

from kb.tui.view import match_label

# Shown in place of ESC, so a pasted colour code reads as text instead of being sent to
# the terminal (or dropped); the search reads it back as ESC and strips the colours.
ESC_SHOWN = "␛"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A paste bigger than BIG_PASTE shows only its last lines in the box, and the search reads
# only its last SEARCH_TAIL characters: a traceback's exception lines are at its end, and
# the box (which lays out every line it holds) stays responsive.
BIG_PASTE = 64_000
SHOWN_LINES = 300
SEARCH_TAIL = 128_000
WIDTH_STEP = 256


def shown_text(text: str) -> str:
    """A paste as the box shows it: ESC visible, other control characters dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x1b", ESC_SHOWN)
    return _CONTROL.sub("", text)


def _size(chars: int) -> str:
    return f"{chars / 1e6:.1f} MB" if chars >= 1e6 else f"{chars // 1000} KB"


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
        # Piped text (`python train.py 2>&1 | kb tui`) can be as big as any paste.
        self._initial_big = text if len(text) > BIG_PASTE else ""
        super().__init__(
            "" if self._initial_big else shown_text(text),
            placeholder="e.g. RuntimeError: element 0 of tensors does not require grad",
            soft_wrap=False,
            tab_behavior="focus",
            show_line_numbers=False,
            compact=True,
            **kwargs,
        )

    # The part of a big paste above what the box shows; searched with the box's text.
    hidden = ""
    # Called after each edit, before the frame that shows it: see edit().
    on_edit: Callable[[], None] | None = None

    def edit(self, edit: Edit) -> EditResult:
        # Changed reaches the app a message hop later, after the frame that shows the
        # typed character: a search started then shows its results a frame (up to 17 ms)
        # later. Searching here puts the character and its results in one frame.
        result = super().edit(edit)
        if self.on_edit is not None:
            self.on_edit()
        return result

    def on_mount(self) -> None:
        if self._initial_big:
            self._load_big(self._initial_big)
            self._initial_big = ""
        # A traceback's exception line is at its end: show that part first.
        self.move_cursor(self.document.end)

    def _refresh_size(self) -> None:
        # Textual lays the whole screen out again whenever a widget's virtual size
        # changes, and a typed character widens the line by one: that layout cost most
        # of a keystroke. The width grows in steps instead (the box has no horizontal
        # scrollbar to show the slack), so typing changes it once every WIDTH_STEP keys.
        if self.soft_wrap:
            return super()._refresh_size()
        width, height = self.document.get_size(self.indent_width)
        width = -(-(width + self.gutter_width + 1) // WIDTH_STEP) * WIDTH_STEP
        self.virtual_size = Size(width, height)
        self._refresh_scrollbars()

    def search_text(self) -> str:
        """What the search reads: the box's text (with a big paste's hidden part)."""
        text = query_text(self.text)
        return self.hidden + text if self.hidden else text

    async def _on_paste(self, event) -> None:
        if self.read_only:
            return
        event.prevent_default()
        event.stop()
        text = event.text
        if len(text) > BIG_PASTE:
            self._load_big(text)
        elif result := self._replace_via_keyboard(shown_text(text), *self.selection):
            self.move_cursor(result.end_location)
        self.focus()

    def _load_big(self, text: str) -> None:
        """A big paste replaces the query: its last lines shown, its end searched."""
        total = len(text)
        text = text[-SEARCH_TAIL:]
        lines = text.splitlines(keepends=True)
        shown = "".join(lines[-SHOWN_LINES:])[-BIG_PASTE:]
        self.hidden = text[: len(text) - len(shown)]
        self.load_text(shown_text(shown))
        self.move_cursor(self.document.end)
        searched = "all of it" if total <= SEARCH_TAIL else f"its last {_size(SEARCH_TAIL)}"
        self.border_subtitle = Content(
            f"{_size(total)} pasted: the box shows the last lines, kb reads {searched}"
        )

    def _on_text_area_changed(self) -> None:
        if not self.text and (self.hidden or self.border_subtitle):
            self.hidden = ""
            self.border_subtitle = None

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
        # One replacement, not clear then add: each changes the list's virtual size, and
        # Textual lays the whole screen out again for every such change.
        self.set_options(options)
        self.highlighted = 0 if options and highlight else None


def render_markdown(source: str, code_theme: str, width: int, links: tuple = ()) -> list:
    """Markdown as drawn lines (Strips) at this width: rich's renderer, code highlighted;
    each (word, action) in links makes that word clickable, running the Textual action."""
    from rich.console import Console
    from rich.markdown import Markdown
    from rich.segment import Segment
    from rich.style import Style
    from textual.strip import Strip

    console = Console(width=width, color_system="truecolor", force_terminal=True)
    lines = console.render_lines(
        Markdown(source, code_theme=code_theme, hyperlinks=False),
        console.options.update(width=width),
        pad=False,
    )
    strips = []
    for line in lines:
        segments = [seg for seg in line if not seg.control]
        for word, action in links:
            segments = _link(segments, word, Style(underline=True, meta={"@click": action}))
        strips.append(Strip(Segment.simplify(segments)))
    return strips


def _link(segments: list, word: str, style) -> list:
    """The segments with every whole occurrence of word (inside one segment) restyled."""
    from rich.segment import Segment

    out = []
    for seg in segments:
        text = seg.text
        if word not in text:
            out.append(seg)
            continue
        at = 0
        while (found := text.find(word, at)) != -1:
            if found > at:
                out.append(Segment(text[at:found], seg.style))
            out.append(Segment(word, seg.style + style if seg.style else style))
            at = found + len(word)
        if at < len(text):
            out.append(Segment(text[at:], seg.style))
    return out


class Preview(Widget):
    """An entry as Markdown (rich's), rendered once per entry and width, off the UI thread.

    The rendered lines are kept as Strips and drawn as they are: laying the screen out
    asks only for their count. (A Static holding the text wrapped all of it again on every
    layout, and a layout follows most keystrokes: up to 100 ms per key with a long entry.)
    """

    DEFAULT_CSS = """
    Preview {
        height: auto;
    }
    """

    def __init__(self, placeholder: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.source = ""
        self.code_theme = "monokai"
        self.links: tuple = ()
        self.rendered: tuple | None = None
        self.strips: list = [Strip([Segment(placeholder)])] if placeholder else []

    def show(self, source: str, code_theme: str = "monokai", links: dict | None = None) -> None:
        self.source = source
        self.code_theme = code_theme
        self.links = tuple(sorted((links or {}).items()))
        self._schedule()

    @property
    def text(self) -> str:
        """What the preview shows, as plain text."""
        return "\n".join(strip.text for strip in self.strips)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.strips)

    def render_line(self, y: int) -> Strip:
        width = self.content_region.width or self.size.width
        if y >= len(self.strips):
            return Strip.blank(width, self.rich_style)
        return self.strips[y].crop_extend(0, width, None).apply_style(self.rich_style)

    def on_resize(self) -> None:
        self._schedule()

    def _schedule(self) -> None:
        width = self.content_region.width or self.size.width
        wanted = (self.source, self.code_theme, width, self.links)
        if width and wanted != self.rendered:
            self._render_markdown(*wanted)

    @work(exclusive=True, group="preview-render")
    async def _render_markdown(
        self, source: str, code_theme: str, width: int, links: tuple
    ) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        strips = await loop.run_in_executor(None, render_markdown, source, code_theme, width, links)
        self.rendered = (source, code_theme, width, links)
        self.strips = strips
        self.refresh(layout=True)
