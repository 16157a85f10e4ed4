"""Read a page the way a browser shows it, for tests that assert what a page says, not how its markup is spelled:
the text of each table cell (entities decoded), the texts of one tag, the text of the whole page."""
from __future__ import annotations

from html.parser import HTMLParser


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []  # each <tr>: its cells' text
        self.tags: dict[str, list[str]] = {}  # tag -> the text of each element of that tag
        self.text: list[str] = []
        self._open: list[tuple[str, list[str]]] = []  # elements being read, with their text so far

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        if tag in ("meta", "br", "img", "input", "link"):
            return  # void elements: no text, no end tag
        self._open.append((tag, []))

    def handle_endtag(self, tag):
        while self._open:
            name, parts = self._open.pop()
            text = "".join(parts)
            self.tags.setdefault(name, []).append(text)
            if name in ("td", "th") and self.rows:
                self.rows[-1].append(" ".join(text.split()))
            if self._open:
                self._open[-1][1].append(text)
            if name == tag:
                break

    def handle_data(self, data):
        if self._open and self._open[-1][0] in ("style", "script"):
            return  # not shown
        self.text.append(data)
        if self._open:
            self._open[-1][1].append(data)


def read(page: str) -> _Reader:
    reader = _Reader()
    reader.feed(page)
    reader.close()
    return reader


def rows(page: str) -> list[list[str]]:
    """The text of each table row's cells, white space folded: ``[["lesson", "exercise", …], ["12_debugging", …]]``."""
    return [r for r in read(page).rows if r]


def texts(page: str, tag: str) -> list[str]:
    """The text of every ``tag`` element (``texts(page, "code")``), in document order of their ends."""
    return read(page).tags.get(tag, [])


def text(page: str) -> str:
    """The page's visible text, white space folded (a space where a tag was)."""
    return " ".join(" ".join(read(page).text).split())
