"""Clip bytes over HTTP, shared by the clips API and the staff pages.

In: a streaming multipart parser that sends an upload's ``file`` part straight
to the clip store, so nothing is held in memory. Out: playback with single
byte ranges, so a browser can seek in a recording.
"""

from __future__ import annotations

import re

from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from python_multipart.multipart import MultipartParser, parse_options_header

from yswd.aggregates.clip import Clip
from yswd.aggregates.errors import InvalidInput
from yswd.application.clips import Clips
from yswd.application.ports import PendingClip

#: the longest form field next to the file, and how many there may be
FIELD_MAX = 1024
MAX_FIELDS = 10


# -- in: the multipart upload -----------------------------------------------------------


class ClipForm:
    """A streaming multipart parser that sends the ``file`` part to a pending clip."""

    def __init__(self, service: Clips, upload: PendingClip, boundary: bytes) -> None:
        self.service = service
        self.upload = upload
        self.fields: dict[str, str] = {}
        self.files = 0
        self._name = ""
        self._is_file = False
        self._field = bytearray()
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._ended = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value_cb,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_end": self._end,
            },
        )

    def write(self, chunk: bytes) -> None:
        self._parser.write(chunk)

    def finish(self) -> None:
        self._parser.finalize()
        if not self._ended:
            raise InvalidInput("The multipart body ended early.")

    def _part_begin(self) -> None:
        self._name = ""
        self._is_file = False
        self._field = bytearray()
        self._disposition = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name")
        if name is None:
            raise InvalidInput("Every form part needs a name.")
        self._name = name.decode("utf-8", "replace")
        self._is_file = self._name == "file"
        if self._is_file:
            self.files += 1
            if self.files > 1:
                raise InvalidInput("Send one file per upload.")
        elif len(self.fields) >= MAX_FIELDS:
            raise InvalidInput("Too many form fields.")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.service.take(self.upload, data[start:end])
            return
        self._field += data[start:end]
        if len(self._field) > FIELD_MAX:
            raise InvalidInput(f"The form field '{self._name[:40]}' is too long.")

    def _part_end(self) -> None:
        if not self._is_file:
            self.fields[self._name] = self._field.decode("utf-8", "replace").strip()

    def _end(self) -> None:
        self._ended = True


def multipart_boundary(request: Request) -> bytes | None:
    """The boundary of a ``multipart/form-data`` body, or None for any other body."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data":
        return None
    boundary = options.get(b"boundary")
    return boundary if boundary and len(boundary) <= 200 else None


# -- out: playing -----------------------------------------------------------------------

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (start, end-exclusive) of a single ``Range: bytes=`` request, or None for all.

    Raises ``ValueError`` when the range cannot be satisfied (416). Several
    ranges, or a malformed header, are answered with the whole body.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last[:18])
        if length == 0:
            raise ValueError("empty suffix range")
        return max(0, size - length), size
    start = int(first[:18])
    end = min(int(last[:18]) + 1, size) if last else size
    if start >= size or end <= start:
        raise ValueError("range not satisfiable")
    return start, end


def media_response(service: Clips, clip: Clip, size: int, request: Request) -> Response:
    """The clip's bytes (or the range asked for), sandboxed and never cached."""
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": "inline",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    try:
        wanted = byte_range(request.headers.get("range"), size)
    except ValueError:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    start, end = wanted if wanted is not None else (0, size)
    headers["Content-Length"] = str(end - start)
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return StreamingResponse(
        iter(service.read(clip, start, end)),
        status_code=status,
        media_type=clip.media_type,
        headers=headers,
    )
