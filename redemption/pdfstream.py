"""One long PDF written piece by piece, in bounded memory.

reportlab keeps every page of a canvas in memory until `save()`: printing a 3,350-booklet order that
way held the whole document (362 MB). Here reportlab renders a few pages at a time (a chunk, a small
PDF of its own) and `PdfStream` copies that chunk's objects out at once, renumbered, so the output
can go to a file or an HTTP response as it is produced. What stays in memory across chunks is what
the PDF format itself needs at the end: one offset per object (the cross-reference table) and one
number per page (the page tree), a few bytes a page.

The chunks must come from reportlab (`Canvas.save()`, uncompressed object layout with a classic
cross-reference table, which it always writes); their catalog, outlines, information dictionary and
page tree are dropped and replaced by the document's own.
"""

from __future__ import annotations

import re
from array import array

_HEADER = b"%PDF-1.4\n%\x93\x8c\x8b\x9e APTIC\n"
_REFERENCE = re.compile(rb"(?<![\w.])(\d+) 0 R\b")
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_OBJECT_START = re.compile(rb"\s*(\d+) 0 obj\s*")
_STREAM_START = re.compile(rb">>\s*stream\r?\n")
CATALOG, PAGES, INFO = 1, 2, 3


def _pdf_string(text: str) -> bytes:
    """A PDF text string in UTF-16 (any French text), hex-encoded so that nothing needs escaping."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


class PdfStream:
    """`begin()`, then `add(chunk)` for each reportlab chunk in page order, then `end()`: each returns the
    bytes to write next."""

    def __init__(self, title: str, author: str) -> None:
        self.title, self.author = title, author
        self.position = 0
        self.offsets = array("Q", [0, 0, 0, 0])  # index = object number; 0 is the free head of the table
        self.kids = array("L")

    @property
    def page_count(self) -> int:
        return len(self.kids)

    def _emit(self, number: int, body: bytes) -> bytes:
        self.offsets[number] = self.position
        data = b"%d 0 obj\n" % number + body + b"\nendobj\n"
        self.position += len(data)
        return data

    def _new_number(self) -> int:
        self.offsets.append(0)
        return len(self.offsets) - 1

    def begin(self) -> bytes:
        self.position = len(_HEADER)
        return _HEADER

    def add(self, chunk: bytes) -> bytes:
        objects, root, info = _read_objects(chunk)
        catalog = objects[root]
        dropped = {root, info, *_references_of(catalog, b"/Outlines")}
        (pages,) = _references_of(catalog, b"/Pages")
        dropped.add(pages)
        renumber = {pages: PAGES}
        for number in sorted(objects):
            if number not in dropped:
                renumber[number] = self._new_number()
        out = []
        for number in sorted(objects):
            if number not in dropped:
                out.append(self._emit(renumber[number], _renumbered(objects[number], renumber)))
        self.kids.extend(renumber[kid] for kid in _references_of(objects[pages], b"/Kids"))
        return b"".join(out)

    def end(self) -> bytes:
        kids = b" ".join(b"%d 0 R" % kid for kid in self.kids)
        out = [
            self._emit(PAGES, b"<< /Type /Pages /Count %d /Kids [ %s ] >>" % (len(self.kids), kids)),
            self._emit(CATALOG, b"<< /Type /Catalog /Pages %d 0 R /PageMode /UseNone >>" % PAGES),
            self._emit(INFO, b"<< /Title %s /Author %s /Producer (APTIC, ReportLab) >>"
                       % (_pdf_string(self.title), _pdf_string(self.author))),
        ]
        xref_at = self.position
        table = [b"xref\n0 %d\n0000000000 65535 f \n" % len(self.offsets)]
        table += [b"%010d 00000 n \n" % offset for offset in self.offsets[1:]]
        table.append(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                     % (len(self.offsets), CATALOG, INFO, xref_at))
        out.append(b"".join(table))
        return b"".join(out)


def _read_objects(pdf: bytes) -> tuple[dict[int, bytes], int, int]:
    """A reportlab file's objects (number -> what lies between `obj` and `endobj`), its catalog and info numbers."""
    found = _STARTXREF.search(pdf[-200:])
    if found is None:
        raise ValueError("not a reportlab PDF: no startxref")
    xref_at = int(found.group(1))
    lines = pdf[xref_at:].split(b"\n")
    first, count = (int(part) for part in lines[1].split())
    offsets = {}
    for index, line in enumerate(lines[2 : 2 + count]):
        offset, _generation, kind = line.split()[:3]
        if kind == b"n":
            offsets[first + index] = int(offset)
    trailer = pdf[xref_at:]
    (root,) = _references_of(trailer, b"/Root")
    (info,) = _references_of(trailer, b"/Info")
    bounds = sorted(offsets.values()) + [xref_at]
    following = {start: end for start, end in zip(bounds, bounds[1:], strict=False)}
    objects = {}
    for number, offset in offsets.items():
        raw = pdf[offset : following[offset]]
        start = _OBJECT_START.match(raw)
        if start is None or int(start.group(1)) != number:
            raise ValueError(f"object {number} not found at its offset")
        end = raw.rfind(b"endobj")
        if end < 0:
            raise ValueError(f"object {number} has no endobj")
        objects[number] = raw[start.end() : end].rstrip()
    return objects, root, info


def _references_of(body: bytes, key: bytes) -> list[int]:
    """The object numbers referenced by `key` in a dictionary: one reference, or an array of them."""
    at = body.find(key + b" ")
    if at < 0:
        return []
    rest = body[at + len(key) :].lstrip()
    if rest.startswith(b"["):
        rest = rest[: rest.index(b"]")]
        return [int(n) for n in _REFERENCE.findall(rest)]
    found = _REFERENCE.match(rest)
    return [int(found.group(1))] if found else []


def _renumbered(body: bytes, renumber: dict[int, int]) -> bytes:
    """The object with its references renumbered; a stream's data is copied untouched."""
    stream = _STREAM_START.search(body)
    head, data = (body[: stream.end()], body[stream.end() :]) if stream else (body, b"")
    return _REFERENCE.sub(lambda m: b"%d 0 R" % renumber[int(m.group(1))], head) + data
