"""Offline tests of the streaming poll_results parser on in-memory byte streams."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from sfn_forensics.pollresults import PollResultsFormatError, iter_poll_results

CHUNK_SIZES = [1, 7, 65536]

ENTRIES: list[dict[str, Any]] = [
    {
        "batch_id": "5f0c9a1e-0001",
        "openai_batch_id": "batch_abc",
        "batch_status": "completed",
        "action": "process_results",
        "results_count": 120,
        "delta_id": "d1",
        "delta_key": "words/delta/d1/",
        "embedding_count": 120,
    },
    {
        "batch_id": "5f0c9a1e-0002",
        "batch_status": "in_progress",
        "action": "wait",
        "note": 'brackets ] [ } { , and an escaped quote \\" inside',
    },
    {
        "batch_id": "5f0c9a1e-0003",
        "action": "error",
        "error": {"type": "KeyError", "path": ["a", {"b": [1, 2, {"c": None}]}]},
        "text": "caf\u00e9 \u65e5\u672c \U0001f600 tab\t newline\n",
    },
    {"batch_id": "5f0c9a1e-0004", "large_number": 123456789012345678901234567890, "ratio": -1.5e-7},
]


def parse(data: bytes, chunk_size: int) -> list[dict[str, Any]]:
    return list(iter_poll_results(io.BytesIO(data), chunk_size=chunk_size))


def format_error(data: bytes, chunk_size: int = 7) -> PollResultsFormatError:
    with pytest.raises(PollResultsFormatError) as caught:
        parse(data, chunk_size)
    return caught.value


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_reader_compact_array(chunk_size: int) -> None:
    data = json.dumps(ENTRIES, separators=(",", ":")).encode()
    assert parse(data, chunk_size) == ENTRIES


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_reader_indented_array(chunk_size: int) -> None:
    data = json.dumps(ENTRIES, indent=4).encode()
    assert parse(data, chunk_size) == ENTRIES


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_reader_raw_utf8(chunk_size: int) -> None:
    # ensure_ascii=False writes 2-, 3- and 4-byte UTF-8 sequences that chunk_size 1 and 7 split.
    data = json.dumps(ENTRIES, ensure_ascii=False).encode("utf-8")
    assert parse(data, chunk_size) == ENTRIES


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_reader_whitespace_everywhere(chunk_size: int) -> None:
    data = b' \r\n\t[ \n {"batch_id" :\t"a" } \n,\r\n{ "batch_id":"b"}\t\n ] \n\n'
    assert parse(data, chunk_size) == [{"batch_id": "a"}, {"batch_id": "b"}]


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_reader_empty_array(chunk_size: int) -> None:
    assert parse(b" [ \n ] ", chunk_size) == []


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 4, 5, 6, 7])
def test_reader_split_escapes(chunk_size: int) -> None:
    value = 'q\\"x\\\\y\\u00e9z\\ud83d\\ude00 ]}'
    data = ('[{"batch_id":"' + value + '"}]').encode()
    assert parse(data, chunk_size) == [{"batch_id": json.loads('"' + value + '"')}]


@pytest.mark.parametrize("split_at", range(1, 30))
def test_reader_split_multibyte(split_at: int) -> None:
    data = '[{"batch_id":"\u00e9\u65e5\U0001f600"}]'.encode()

    class TwoReads(io.RawIOBase):
        """Returns the first `split_at` bytes, then the rest, whatever size is requested."""

        def __init__(self) -> None:
            self.parts = [data[:split_at], data[split_at:]]

        def read(self, size: int = -1) -> bytes:
            return self.parts.pop(0) if self.parts else b""

    entries = list(iter_poll_results(TwoReads(), chunk_size=65536))  # type: ignore[arg-type]
    assert entries == [{"batch_id": "\u00e9\u65e5\U0001f600"}]


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_reader_number_at_chunk_boundary(chunk_size: int) -> None:
    data = b'[{"n":1},1234567,{"n":2}]'
    reader = iter_poll_results(io.BytesIO(data), chunk_size=chunk_size)
    assert list(reader) == [{"n": 1}, {"n": 2}]
    assert reader.invalid_entries == 1


def test_reader_number_split_in_two_reads() -> None:
    # The first read ends inside the number; parsing "12" alone would yield a wrong value.
    reader = iter_poll_results(io.BytesIO(b"[12345, {}]"), chunk_size=3)
    assert list(reader) == [{}]
    assert reader.invalid_entries == 1


def test_reader_value_larger_than_chunks() -> None:
    big = {"batch_id": "big", "payload": "x" * 300_000, "nested": [[[[{"k": "]"}]]]]}
    data = json.dumps([big, {"batch_id": "after"}]).encode()
    assert parse(data, 64) == [big, {"batch_id": "after"}]


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_reader_non_objects_counted(chunk_size: int) -> None:
    data = b'[1, {"batch_id": "a"}, "text", null, [], true, {"batch_id": "b"}]'
    reader = iter_poll_results(io.BytesIO(data), chunk_size=chunk_size)
    entries = list(reader)
    assert entries == [{"batch_id": "a"}, {"batch_id": "b"}]
    assert reader.invalid_entries == 5
    assert reader.elements == 7
    assert reader.invalid_entry_offsets == [1, 23, 31, 37, 41]


def test_reader_invalid_offsets_capped() -> None:
    data = ("[" + ",".join(["0"] * 50) + "]").encode()
    reader = iter_poll_results(io.BytesIO(data))
    assert list(reader) == []
    assert reader.invalid_entries == 50
    assert len(reader.invalid_entry_offsets) == 20


def test_reader_bytes_read() -> None:
    data = b'[{"a": 1}]   '
    reader = iter_poll_results(io.BytesIO(data), chunk_size=4)
    list(reader)
    assert reader.bytes_read == len(data)


def test_reader_utf8_bom_skipped() -> None:
    assert parse(b'\xef\xbb\xbf[{"a": 1}]', 1) == [{"a": 1}]


def test_reader_rejects_zero_chunk_size() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        iter_poll_results(io.BytesIO(b"[]"), chunk_size=0)


@pytest.mark.parametrize(
    ("data", "offset", "reason"),
    [
        (b"", 0, "empty input"),
        (b"   \n", 4, "empty input"),
        (b'{"batch_id": "a"}', 0, "not an array"),
        (b'  "text"', 2, "not an array"),
        (b"[", 1, "end of input inside the array"),
        (b'[{"a": 1}', 9, "expected ',' or ']'"),
        (b'[{"a": 1},', 10, "end of input after ','"),
        (b'[{"a": 1},]', 10, "trailing comma"),
        (b'[{"a": 1} {"b": 2}]', 10, "expected ',' or ']'"),
        (b'[{"a": 1}] []', 11, "after the JSON array"),
        (b'[{"a": tru}]', 7, "Expecting value"),
        (b'[{"a": "unterminated}]', 7, "Unterminated string"),
        (b'[{"a" 1}]', 6, "Expecting ':' delimiter"),
        (b'[{"a": "line\nbreak"}]', 12, "Invalid control character"),
        (b'[{"\xc3\xa9": x}]', 8, "Expecting value"),
        (b'[{"a": "\xff"}]', 8, "invalid UTF-8"),
        (b'[{"a": "\xe6\x97"}]', 8, "invalid UTF-8"),
        (b'[{"a": "\xe6\x97', 8, "invalid UTF-8"),
    ],
)
@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_reader_format_error_offset(data: bytes, offset: int, reason: str, chunk_size: int) -> None:
    error = format_error(data, chunk_size)
    assert error.offset == offset
    assert reason in error.reason


def test_reader_format_error_is_value_error() -> None:
    error = format_error(b"{}")
    assert isinstance(error, ValueError)
    assert "byte offset 0" in str(error)


def test_reader_yields_entries_before_error() -> None:
    reader = iter_poll_results(io.BytesIO(b'[{"a": 1}, {"b": 2}, oops]'), chunk_size=4)
    assert next(reader) == {"a": 1}
    assert next(reader) == {"b": 2}
    with pytest.raises(PollResultsFormatError):
        next(reader)


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_reader_invalid_offset_counts_bytes(chunk_size: int) -> None:
    data = '[{"batch_id": "\u65e5\u672c"}, 7]'.encode()
    reader = iter_poll_results(io.BytesIO(data), chunk_size=chunk_size)
    list(reader)
    assert reader.invalid_entry_offsets == [data.index(b"7")]
