"""Tests for reading audience files: CSV, JSON Lines and plain chat ids."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bulletin import errors
from bulletin.audience.reader import (
    AudienceItems,
    AudienceRecord,
    LineError,
    read_audience,
    read_stream,
)


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return str(path)


def read_all(path: str, stdin: io.StringIO | None = None) -> list[AudienceRecord | LineError]:
    return list(read_audience(path, stdin=stdin))


def records(items: list[AudienceRecord | LineError]) -> list[AudienceRecord]:
    return [item for item in items if isinstance(item, AudienceRecord)]


def line_errors(items: list[AudienceRecord | LineError]) -> list[LineError]:
    return [item for item in items if isinstance(item, LineError)]


def only_error(items: list[AudienceRecord | LineError]) -> LineError:
    assert len(items) == 1
    assert isinstance(items[0], LineError)
    return items[0]


def record(
    line: int,
    chat_id: int,
    *,
    first_name: str | None = None,
    username: str | None = None,
    language_code: str | None = None,
    tags: tuple[str, ...] = (),
    fields: dict[str, str] | None = None,
) -> AudienceRecord:
    return AudienceRecord(
        line=line,
        chat_id=chat_id,
        first_name=first_name,
        username=username,
        language_code=language_code,
        tags=tags,
        fields=fields or {},
    )


# CSV


def test_csv_reads_known_and_custom_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "people.csv",
        "chat_id,first_name,username,language_code,tags,city\n"
        "42,Ann,@ann,EN,VIP; beta,Oslo\n"
        "-1001234567890,,,,,\n",
    )
    assert read_all(path) == [
        record(
            2,
            42,
            first_name="Ann",
            username="ann",
            language_code="en",
            tags=("vip", "beta"),
            fields={"city": "Oslo"},
        ),
        record(3, -1001234567890),
    ]


def test_csv_only_chat_id_column(tmp_path: Path) -> None:
    path = write(tmp_path, "ids.csv", "chat_id\n1\n2\n")
    assert read_all(path) == [record(2, 1), record(3, 2)]


def test_csv_header_names_are_trimmed_and_case_insensitive(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", " Chat_ID , First_Name , Plan \n7,Bo,gold\n")
    assert read_all(path) == [record(2, 7, first_name="Bo", fields={"Plan": "gold"})]


def test_csv_values_are_trimmed_and_empty_custom_fields_dropped(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "chat_id,first_name,city,plan\n 5 ,  Al  , ,free\n")
    assert read_all(path) == [record(2, 5, first_name="Al", fields={"plan": "free"})]


def test_csv_quoted_fields_with_commas_and_newlines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "q.csv",
        'chat_id,first_name,note\n1,"Smith, John","line one\nline two"\n2,"Ann","a ""quote"""\n',
    )
    assert read_all(path) == [
        record(2, 1, first_name="Smith, John", fields={"note": "line one\nline two"}),
        record(4, 2, first_name="Ann", fields={"note": 'a "quote"'}),
    ]


def test_csv_row_spanning_lines_reports_its_first_line(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", 'chat_id,note\n1,"a\nb\nc"\nx,y\n')
    items = read_all(path)
    assert items[0] == record(2, 1, fields={"note": "a\nb\nc"})
    assert items[1] == LineError(5, "chat_id 'x' is not an integer")


def test_csv_crlf_line_endings(tmp_path: Path) -> None:
    path = write(tmp_path, "w.csv", 'chat_id,first_name,note\r\n1,Ann,"x\r\ny"\r\n2,Bob,z\r\n')
    assert read_all(path) == [
        record(2, 1, first_name="Ann", fields={"note": "x\r\ny"}),
        record(4, 2, first_name="Bob", fields={"note": "z"}),
    ]


def test_csv_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "\n\nchat_id,first_name\n\n1,Ann\n   \n2,Bob\n\n")
    assert read_all(path) == [record(5, 1, first_name="Ann"), record(7, 2, first_name="Bob")]


def test_csv_tags_parsing(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.csv",
        'chat_id,tags\n1," VIP ; beta|Beta,,vip | news "\n2,\n3,solo\n',
    )
    assert [item.tags for item in records(read_all(path))] == [
        ("vip", "beta", "news"),
        (),
        ("solo",),
    ]


def test_csv_line_errors_carry_line_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "e.csv",
        "chat_id,first_name,language_code\n"
        "abc,Ann,en\n"
        "0,Bob,en\n"
        "4503599627370496,Cy,en\n"
        ",Dee,en\n"
        "5,Eve,english\n"
        "6,Fay\n"
        "7,Gus,en,extra\n"
        "8,Hal,pt-BR\n",
    )
    assert read_all(path) == [
        LineError(2, "chat_id 'abc' is not an integer"),
        LineError(3, "chat_id must not be 0"),
        LineError(4, "chat_id 4503599627370496 is out of range (|chat_id| < 2**52)"),
        LineError(5, "chat_id is missing"),
        LineError(6, "language_code 'english' is not a code like 'en' or 'pt-br'"),
        LineError(7, "row has 2 fields, header has 3"),
        LineError(8, "row has 4 fields, header has 3"),
        record(9, 8, first_name="Hal", language_code="pt-br"),
    ]


def test_csv_largest_chat_id_is_accepted(tmp_path: Path) -> None:
    limit = 2**52 - 1
    path = write(tmp_path, "big.csv", f"chat_id\n{limit}\n-{limit}\n+3\n")
    assert [item.chat_id for item in records(read_all(path))] == [limit, -limit, 3]


def test_csv_header_without_chat_id(tmp_path: Path) -> None:
    path = write(tmp_path, "h.csv", "a,b\n1,2\n")
    with pytest.raises(errors.InputError) as caught:
        read_audience(path)
    assert caught.value.message == f"{path}:1: CSV header has no chat_id column (found: a, b)"


def test_csv_header_line_is_its_physical_line(tmp_path: Path) -> None:
    path = write(tmp_path, "h.csv", "\n\nname\n")
    with pytest.raises(errors.InputError, match=r":3: CSV header has no chat_id column"):
        read_audience(path)


def test_csv_duplicate_header_names(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "chat_id,city,city\n1,a,b\n")
    with pytest.raises(errors.InputError) as caught:
        read_audience(path)
    assert caught.value.message == f"{path}:1: CSV header has column 'city' more than once"


def test_csv_duplicate_known_column_in_other_case(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "chat_id,CHAT_ID\n1,2\n")
    with pytest.raises(errors.InputError, match="'chat_id' more than once"):
        read_audience(path)


def test_csv_empty_header_name(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "chat_id,name,\n1,a,\n")
    with pytest.raises(errors.InputError, match=r":1: CSV header column 3 has no name"):
        read_audience(path)


def test_csv_header_only_yields_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "h.csv", "chat_id,first_name\n")
    assert read_all(path) == []


def test_csv_nul_character_is_a_line_error(tmp_path: Path) -> None:
    path = write(tmp_path, "n.csv", "chat_id,first_name\n1,A\x00B\n2,C\n")
    assert read_all(path) == [
        LineError(2, "first_name contains a NUL character"),
        record(3, 2, first_name="C"),
    ]


def test_csv_oversized_field_is_a_line_error_and_reading_goes_on(tmp_path: Path) -> None:
    huge = "x" * 200_000
    path = write(tmp_path, "f.csv", f"chat_id,note\n1,{huge}\n2,ok\n")
    items = read_all(path)
    assert isinstance(items[0], LineError)
    assert items[0].line == 2
    assert "field larger than field limit" in items[0].reason
    assert items[1:] == [record(3, 2, fields={"note": "ok"})]


# JSON Lines


def test_jsonl_reads_known_and_custom_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "people.jsonl",
        '{"chat_id": 42, "first_name": "Ann", "username": "@ann", "language_code": "pt-BR",'
        ' "tags": ["VIP", " beta ", "vip"], "age": 31, "paid": true, "score": 1.5,'
        ' "city": "Oslo", "note": null}\n'
        '{"chat_id": "-100200", "tags": "a;b|A"}\n',
    )
    assert read_all(path) == [
        record(
            1,
            42,
            first_name="Ann",
            username="ann",
            language_code="pt-br",
            tags=("vip", "beta"),
            fields={"age": "31", "paid": "true", "score": "1.5", "city": "Oslo"},
        ),
        record(2, -100200, tags=("a", "b")),
    ]


@pytest.mark.parametrize("name", ["a.ndjson", "a.json", "a.txt", "a", "a.data"])
def test_jsonl_by_extension_or_sniffing(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, '\n{"chat_id": 1}\n\n{"chat_id": 2}\n')
    assert read_all(path) == [record(2, 1), record(4, 2)]


def test_jsonl_line_errors(tmp_path: Path) -> None:
    lines = [
        '{"chat_id": 1}',
        "{not json",
        "[1, 2]",
        '"text"',
        '{"first_name": "Ann"}',
        '{"chat_id": null}',
        '{"chat_id": 1.5}',
        '{"chat_id": true}',
        '{"chat_id": 2, "first_name": 5}',
        '{"chat_id": 3, "tags": [1]}',
        '{"chat_id": 4, "tags": {"a": 1}}',
        '{"chat_id": 5, "extra": {"a": 1}}',
        '{"chat_id": 6, "extra": [1]}',
        '{"chat_id": 7, "language_code": "xx-"}',
        '{"chat_id": 0}',
        '{"chat_id": 8, "score": NaN}',
        '{"chat_id": 9}',
    ]
    path = write(tmp_path, "e.jsonl", "\r\n".join(lines) + "\r\n")
    assert read_all(path) == [
        record(1, 1),
        LineError(
            2, "not valid JSON: Expecting property name enclosed in double quotes at column 2"
        ),
        LineError(3, "JSON value is not an object (got array)"),
        LineError(4, "JSON value is not an object (got string)"),
        LineError(5, "chat_id is missing"),
        LineError(6, "chat_id is missing"),
        LineError(7, "chat_id 1.5 is not an integer"),
        LineError(8, "chat_id must be an integer, got boolean"),
        LineError(9, "first_name must be a string, got number"),
        LineError(10, "tags must be a string or a list of strings"),
        LineError(11, "tags must be a string or a list of strings"),
        LineError(12, "field 'extra' must be a string, number or boolean, got object"),
        LineError(13, "field 'extra' must be a string, number or boolean, got array"),
        LineError(14, "language_code 'xx-' is not a code like 'en' or 'pt-br'"),
        LineError(15, "chat_id must not be 0"),
        LineError(16, "not valid JSON: NaN is not a JSON number"),
        record(17, 9),
    ]


def test_json_array_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", '[\n{"chat_id": 1}\n]\n')
    with pytest.raises(errors.InputError, match=r":1: a JSON array is not supported"):
        read_audience(path)


# Plain chat ids


def test_plain_ids_with_comments_and_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "ids.txt", "# my list\n\n1\n  -1002003004 \n# done\n+7\nabc\n0\n")
    assert read_all(path) == [
        record(3, 1),
        record(4, -1002003004),
        record(6, 7),
        LineError(7, "chat_id 'abc' is not an integer"),
        LineError(8, "chat_id must not be 0"),
    ]


@pytest.mark.parametrize("name", ["ids", "list.ids", "list.txt", "list.lst"])
def test_plain_ids_are_sniffed(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, "10\r\n20\r\n")
    assert read_all(path) == [record(1, 10), record(2, 20)]


def test_csv_is_sniffed_without_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "people.txt", "chat_id,first_name\n1,Ann\n")
    assert read_all(path) == [record(2, 1, first_name="Ann")]


def test_extension_wins_over_sniffing(tmp_path: Path) -> None:
    path = write(tmp_path, "ids.csv", "chat_id\n1\n")
    assert read_all(path) == [record(2, 1)]
    ids_as_csv = write(tmp_path, "numbers.csv", "1\n2\n")
    with pytest.raises(errors.InputError, match=r"no chat_id column \(found: 1\)"):
        read_audience(ids_as_csv)


# Standard input


def test_stdin_csv() -> None:
    stdin = io.StringIO("chat_id,first_name\n1,Ann\n")
    assert read_all("-", stdin) == [record(2, 1, first_name="Ann")]


def test_stdin_jsonl() -> None:
    stdin = io.StringIO('{"chat_id": 5, "first_name": "Zoë"}\n')
    assert read_all("-", stdin) == [record(1, 5, first_name="Zoë")]


def test_stdin_plain_ids_with_bom() -> None:
    stdin = io.StringIO("\ufeff11\n12\n")
    assert read_all("-", stdin) == [record(1, 11), record(2, 12)]


def test_stdin_binary_buffer_is_used() -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"1\n\xff\n"), encoding="utf-8")
    items = read_audience("-", stdin=stdin)
    assert next(items) == record(1, 1)
    with pytest.raises(errors.InputError) as caught:
        next(items)
    assert caught.value.message == "<stdin>:2: not valid UTF-8 text"


def test_stdin_empty() -> None:
    with pytest.raises(errors.InputError) as caught:
        read_audience("-", stdin=io.StringIO("\n  \n"))
    assert caught.value.message == "<stdin>: file is empty"


def test_stdin_text_with_lone_surrogate_is_not_utf8() -> None:
    stdin = io.StringIO("1\n2\n\udcff3\n")
    items = read_audience("-", stdin=stdin)
    with pytest.raises(errors.InputError, match=r"<stdin>:3: not valid UTF-8 text"):
        list(items)


# Whole-file problems


def test_missing_file(tmp_path: Path) -> None:
    path = str(tmp_path / "nope.csv")
    with pytest.raises(errors.InputError) as caught:
        read_audience(path)
    assert caught.value.message == f"cannot read {path}: No such file or directory"


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(errors.InputError, match=r"^cannot read .*: Is a directory$"):
        read_audience(str(tmp_path))


def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "secret.csv", "chat_id\n1\n")
    Path(path).chmod(0)
    try:
        with open(path, "rb"):
            pytest.skip("running as a user who can read any file")
    except PermissionError:
        pass
    with pytest.raises(errors.InputError, match=r"^cannot read .*: Permission denied$"):
        read_audience(path)


@pytest.mark.parametrize("content", ["", "\n\n", "  \r\n\t\n", "\ufeff"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = write(tmp_path, "empty.csv", content)
    with pytest.raises(errors.InputError) as caught:
        read_audience(path)
    assert caught.value.message == f"{path}: file is empty"


def test_comment_only_ids_file_is_not_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "ids.txt", "# nothing yet\n")
    assert read_all(path) == []


def test_invalid_utf8_in_line_3(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv", b"chat_id,first_name\n1,Ann\n2,B\xe9a\n3,Cy\n")
    items = read_audience(path)
    assert next(items) == record(2, 1, first_name="Ann")
    with pytest.raises(errors.InputError) as caught:
        next(items)
    assert caught.value.message == f"{path}:3: not valid UTF-8 text"
    assert caught.value.line == 3


def test_invalid_utf8_in_first_line_raises_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.txt", b"\xc3\x28\n")
    with pytest.raises(errors.InputError, match=r":1: not valid UTF-8 text"):
        read_audience(path)


def test_utf16_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "w.csv", "chat_id\n1\n".encode("utf-16"))
    with pytest.raises(errors.InputError, match=r":1: file is UTF-16 text; save it as UTF-8"):
        read_audience(path)


def test_line_longer_than_one_mebibyte(tmp_path: Path) -> None:
    long_line = "x" * (2 * 1024 * 1024)
    path = write(tmp_path, "long.txt", f"1\n2\n{long_line}\n4\n")
    items = read_audience(path)
    assert [next(items), next(items)] == [record(1, 1), record(2, 2)]
    with pytest.raises(errors.InputError) as caught:
        next(items)
    assert caught.value.message == f"{path}:3: line is longer than 1048576 bytes"


def test_line_of_exactly_one_mebibyte_is_accepted(tmp_path: Path) -> None:
    padding = "x" * (1_048_576 - len('{"chat_id": 1, "pad": ""}'))
    path = write(tmp_path, "edge.jsonl", f'{{"chat_id": 1, "pad": "{padding}"}}\r\n')
    items = read_all(path)
    assert records(items)[0].fields["pad"] == padding


def test_long_line_counts_bytes_not_characters(tmp_path: Path) -> None:
    path = write(tmp_path, "wide.txt", "1\n" + "é" * 600_000 + "\n")
    with pytest.raises(errors.InputError, match=r":2: line is longer than 1048576 bytes"):
        list(read_audience(path))


# Byte order mark


def test_bom_is_stripped(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.csv", b"\xef\xbb\xbfchat_id,first_name\r\n1,Ann\r\n")
    assert read_all(path) == [record(2, 1, first_name="Ann")]


def test_bom_before_json(tmp_path: Path) -> None:
    path = write(tmp_path, "bom", b'\xef\xbb\xbf{"chat_id": 3}\n')
    assert read_all(path) == [record(1, 3)]


# Duplicates and streaming


def test_duplicates_are_all_yielded(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.txt", "1\n1\n1\n")
    assert len(records(read_all(path))) == 3


def test_streams_many_lines_without_a_list(tmp_path: Path) -> None:
    count = 200_000
    path = tmp_path / "many.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("chat_id,first_name,tags,plan\n")
        for number in range(1, count + 1):
            out.write(f"{number},User {number},a;b,free\n")
    items = read_audience(str(path))
    assert isinstance(items, AudienceItems)  # an iterator over the file, not a list
    seen = 0
    for item in items:
        assert isinstance(item, AudienceRecord)
        seen += 1
    assert seen == count
    assert isinstance(item, AudienceRecord)
    assert item.line == count + 1
    assert item.chat_id == count


def test_abandoned_reader_closes_its_file(tmp_path: Path) -> None:
    path = write(tmp_path, "ids.txt", "1\n2\n3\n")
    items = read_audience(path)
    assert next(items) == record(1, 1)
    items.close()
    unstarted = read_audience(path)
    del unstarted


# Blocks: the file is read a block at a time; lines and rows cross block boundaries.

MIXED_CSV = (
    "\ufeff\r\n\r\n"  # a byte order mark and blank lines before the header
    "chat_id,first_name,note,tags\r\n"
    '1,Ann,"one\r\ntwo\r\nthree",a;b\r\n'
    "\r\n"
    "2,Bö,plain,\r\n"
    '3,Cy,"q ""x"" y",C|a\r\n'
    "oops,Dee,,\r\n"
    "4,Ed,last"  # ragged and without a final line ending
)


@pytest.mark.parametrize("block_size", [1, 2, 3, 7, 64, 262_144])
def test_block_boundaries__same_items_at_any_block_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_size: int
) -> None:
    from bulletin.audience import _lines

    path = write(tmp_path, "mixed.csv", MIXED_CSV)
    monkeypatch.setattr(_lines, "BLOCK_SIZE", block_size)

    assert read_all(path) == [
        record(4, 1, first_name="Ann", tags=("a", "b"), fields={"note": "one\r\ntwo\r\nthree"}),
        record(8, 2, first_name="Bö", fields={"note": "plain"}),
        record(9, 3, first_name="Cy", tags=("c", "a"), fields={"note": 'q "x" y'}),
        LineError(10, "chat_id 'oops' is not an integer"),
        LineError(11, "row has 3 fields, header has 4"),
    ]


@pytest.mark.parametrize("block_size", [1, 5, 262_144])
def test_block_boundaries__bad_byte_named_on_its_line_after_the_good_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_size: int
) -> None:
    from bulletin.audience import _lines

    path = write(tmp_path, "ids.txt", b"1\n2\n3\n4\xe2\x82\n5\n")
    monkeypatch.setattr(_lines, "BLOCK_SIZE", block_size)
    items = read_audience(path)

    assert [next(items) for _ in range(3)] == [record(1, 1), record(2, 2), record(3, 3)]
    with pytest.raises(errors.InputError) as caught:
        next(items)
    assert caught.value.message == f"{path}:4: not valid UTF-8 text"


def test_line_limit__carried_over_many_blocks__stops_reading_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bulletin.audience import _lines

    path = write(tmp_path, "ids.txt", "1\n" + "9" * (3 * _lines.LINE_LIMIT))
    reads: list[int] = []
    real_blocks = _lines._blocks

    def counted(stream: io.BufferedReader, source: str):  # type: ignore[no-untyped-def]
        for block in real_blocks(stream, source):
            reads.append(len(block))
            yield block

    monkeypatch.setattr(_lines, "_blocks", counted)
    with pytest.raises(errors.InputError, match=r":2: line is longer than 1048576 bytes"):
        read_all(path)
    assert sum(reads) <= _lines.LINE_LIMIT + 2 * _lines.BLOCK_SIZE


def test_jsonl_text_postgresql_cannot_store_is_a_line_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.jsonl",
        '{"chat_id": 1, "first_name": "\\ud800"}\n'
        '{"chat_id": 2, "a\\u0000b": "x"}\n'
        '{"chat_id": 3, "tags": ["ok", "\\udfff"]}\n'
        '{"chat_id": 4, "first_name": "\\ud83d\\ude00"}\n',
    )
    assert read_all(path) == [
        LineError(1, "first_name contains a lone surrogate (\\ud800-\\udfff), not text"),
        LineError(2, "field name 'a\\x00b' contains a NUL character"),
        LineError(3, "tags contains a lone surrogate (\\ud800-\\udfff), not text"),
        record(4, 4, first_name="\U0001f600"),
    ]


def test_read_stream__format_given__not_sniffed() -> None:
    items = read_stream(io.BytesIO(b"chat_id\n5\n"), "upload", "csv")
    assert list(items) == [record(2, 5)]
    sniffed = read_stream(io.BytesIO(b"5\n6\n"), "upload")
    assert [item.chat_id for item in records(list(sniffed))] == [5, 6]
    with pytest.raises(errors.InputError, match=r"^upload: file is empty$"):
        read_stream(io.BytesIO(b""), "upload")
