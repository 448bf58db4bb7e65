"""Streaming reader for `poll_results.json`: a top-level JSON array of one object per batch.

The file can hold hundreds of thousands of entries, so the reader never loads it whole. It reads
the stream in chunks, decodes UTF-8 incrementally and parses one array element at a time with
`json.JSONDecoder.raw_decode` over a buffer that keeps only the unparsed tail.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 65536

# The reader keeps the byte offsets of this many invalid entries as evidence and counts the rest.
MAX_INVALID_OFFSETS = 20

_WHITESPACE = re.compile(r"[ \t\n\r]*")

# A JSONDecodeError this close to the end of the buffer may only mean that the value continues in
# the next chunk. The farthest such error from the end is a cut-off "-Infinity", 8 characters.
_TRUNCATION_MARGIN = 16


class PollResultsFormatError(ValueError):
    """poll_results.json is not a JSON array, or is not valid JSON.

    `offset` is the byte offset in the stream where parsing failed, and `reason` the message
    without it.
    """

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"invalid poll_results JSON: {reason} at byte offset {offset}")
        self.reason = reason
        self.offset = offset


class PollResultsReader(Iterator[dict[str, Any]]):
    """Iterator over the objects of a poll_results JSON array, read from a binary stream.

    Array elements that are not JSON objects are skipped and counted in `invalid_entries`, with
    the byte offsets of the first 20 in `invalid_entry_offsets`. Both are final once the iterator
    is exhausted. `elements` counts every array element read so far, valid or not.
    """

    def __init__(self, stream: BinaryIO, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        self._stream = stream
        self._chunk_size = chunk_size
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._json = json.JSONDecoder()
        self._buffer = ""
        self._position = 0
        # Byte offset in the stream of self._buffer[0].
        self._buffer_offset = 0
        self._bytes_read = 0
        self._eof = False
        self._elements = self._parse()
        self.elements = 0
        self.invalid_entries = 0
        self.invalid_entry_offsets: list[int] = []

    def __iter__(self) -> PollResultsReader:
        return self

    def __next__(self) -> dict[str, Any]:
        return next(self._elements)

    @property
    def bytes_read(self) -> int:
        """Bytes read from the stream so far."""
        return self._bytes_read

    def _parse(self) -> Iterator[dict[str, Any]]:
        if not self._skip_whitespace(allow_bom=True):
            raise self._error("empty input, expected a JSON array")
        if self._buffer[self._position] != "[":
            raise self._error("top-level JSON value is not an array")
        self._position += 1

        if not self._skip_whitespace():
            raise self._error("unexpected end of input inside the array")
        if self._buffer[self._position] == "]":
            self._position += 1
        else:
            yield from self._parse_elements()

        if self._skip_whitespace():
            raise self._error("unexpected data after the JSON array")
        log.debug(
            "read %d poll_results elements (%d invalid) from %d bytes",
            self.elements,
            self.invalid_entries,
            self._bytes_read,
        )

    def _parse_elements(self) -> Iterator[dict[str, Any]]:
        while True:
            value, element_position = self._decode_value()
            self.elements += 1
            if isinstance(value, dict):
                yield value
            else:
                self._record_invalid(element_position, value)

            if not self._skip_whitespace():
                raise self._error("unexpected end of input, expected ',' or ']'")
            separator = self._buffer[self._position]
            if separator == "]":
                self._position += 1
                return
            if separator != ",":
                raise self._error(f"expected ',' or ']' after an array element, got {separator!r}")
            self._position += 1
            if not self._skip_whitespace():
                raise self._error("unexpected end of input after ','")
            if self._buffer[self._position] == "]":
                raise self._error("trailing comma before ']'")

    def _decode_value(self) -> tuple[Any, int]:
        """Decode the JSON value at the current position, reading more input while it is cut off.

        Returns the value and its start position in the buffer. Reading more input moves the
        unparsed tail to the buffer's start, so a position taken before the call can be stale.
        """
        while True:
            try:
                value, end = self._json.raw_decode(self._buffer, self._position)
            except json.JSONDecodeError as exc:
                if not self._eof and self._may_be_truncated(exc):
                    self._read_more()
                    continue
                raise self._error(exc.msg, exc.pos) from exc
            # A number that ends where the buffer ends may continue in the next chunk.
            if end == len(self._buffer) and not self._eof:
                self._read_more()
                continue
            start = self._position
            self._position = end
            return value, start

    def _may_be_truncated(self, exc: json.JSONDecodeError) -> bool:
        if exc.msg.startswith("Unterminated string"):
            return True
        return exc.pos >= len(self._buffer) - _TRUNCATION_MARGIN

    def _skip_whitespace(self, allow_bom: bool = False) -> bool:
        """Move past JSON whitespace. Return False at the end of input."""
        while True:
            if allow_bom and self._buffer.startswith("\ufeff", self._position):
                self._position += 1
            match = _WHITESPACE.match(self._buffer, self._position)
            if match is not None:
                self._position = match.end()
            if self._position < len(self._buffer):
                return True
            if self._eof:
                return False
            self._read_more()

    def _read_more(self) -> None:
        """Append at least one decoded character to the buffer, or set end of input.

        The read size grows with the unparsed tail, so a value much larger than `chunk_size` is
        re-parsed a logarithmic number of times instead of once per chunk.
        """
        if self._position > 0:
            consumed = self._buffer[: self._position]
            self._buffer_offset += len(consumed.encode("utf-8"))
            self._buffer = self._buffer[self._position :]
            self._position = 0

        size = max(self._chunk_size, len(self._buffer))
        while True:
            raw = self._stream.read(size)
            pending_bytes = len(self._decoder.getstate()[0])
            chunk_offset = self._bytes_read - pending_bytes
            try:
                text = self._decoder.decode(raw or b"", final=not raw)
            except UnicodeDecodeError as exc:
                raise PollResultsFormatError(
                    f"invalid UTF-8 ({exc.reason})", chunk_offset + exc.start
                ) from exc
            self._bytes_read += len(raw or b"")
            if not raw:
                self._eof = True
            if text:
                self._buffer += text
                return
            if self._eof:
                return

    def _byte_offset(self, position: int) -> int:
        return self._buffer_offset + len(self._buffer[:position].encode("utf-8"))

    def _error(self, reason: str, position: int | None = None) -> PollResultsFormatError:
        at = self._position if position is None else position
        return PollResultsFormatError(reason, self._byte_offset(at))

    def _record_invalid(self, position: int, value: Any) -> None:
        self.invalid_entries += 1
        if len(self.invalid_entry_offsets) < MAX_INVALID_OFFSETS:
            offset = self._byte_offset(position)
            self.invalid_entry_offsets.append(offset)
            log.warning(
                "poll_results element at byte offset %d is a JSON %s, not an object: skipped",
                offset,
                _json_type_name(value),
            )


def _json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def iter_poll_results(stream: BinaryIO, chunk_size: int = DEFAULT_CHUNK_SIZE) -> PollResultsReader:
    """Parse a poll_results JSON array from `stream` one element at a time.

    Returns an iterator of the array's objects. Raises PollResultsFormatError, with the byte
    offset, when the top-level value is not an array or the JSON is malformed. The error is raised
    during iteration, after the entries before it were yielded. Elements that are not objects are
    counted on the returned reader (`invalid_entries`) instead of raising.
    """
    return PollResultsReader(stream, chunk_size)
