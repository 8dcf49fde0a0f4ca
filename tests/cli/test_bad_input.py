"""Bad input on the command line: each malformed file, an oversized one, UTF-16, a runs folder
with no room: one `error: ...` line and exit 2, never a traceback."""

from __future__ import annotations

import pytest

from core.cli import main
from core.data.files import read_labeled
from core.errors import DataError
from core.io import encoding_warning
from core.runs.store import RunStore
from tests.helpers import GOOD, MALFORMED, UTF16, no_room


def core_message(raw: bytes, **options) -> str:
    with pytest.raises(DataError) as caught:
        read_labeled(raw, name="bad.csv", **options)
    return str(caught.value)


def test_every_malformed_file_is_one_error_line_and_exit_2_on_the_command_line(tmp_path, capsys):
    for kind, raw in MALFORMED.items():
        path = tmp_path / "bad.csv"
        path.write_bytes(raw)
        code = main(["review", str(path), "--runs-dir", str(tmp_path / "runs")])
        out, err = capsys.readouterr()
        assert code == 2, kind
        assert err == f"error: {core_message(raw)}\n", kind
        assert "Traceback" not in out + err


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path, capsys):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as f:
        f.truncate(201 * 2**20)  # sparse: 201 MB long, nothing written
    code = main(["review", str(path)])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("error: the file is 201.0 MB, over the 200 MB limit")


def test_utf16_is_read_with_a_warning_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "unicode.csv"
    path.write_bytes(UTF16)
    for command in (
        ["review", str(path)],
        ["review", str(tmp_path / "ok.csv"), "--valid", str(path)],
        ["embed", "small", "--file", str(path)],
        ["embed", "small", "--file", str(path), "--out", str(tmp_path / "vectors.parquet")],
    ):
        (tmp_path / "ok.csv").write_bytes(GOOD)
        code = main([*command, "--runs-dir", str(tmp_path / "runs")])
        out, err = capsys.readouterr()
        assert code == 0
        # First on stderr, before anything is computed (--out adds a progress bar after it).
        assert err.splitlines()[0] == f"warning: {encoding_warning(UTF16, 'unicode.csv')}"
        assert "unicode.csv is UTF-16" not in out
    main(["review", str(tmp_path / "ok.csv"), "--runs-dir", str(tmp_path / "runs")])
    assert capsys.readouterr().err == ""  # UTF-8: no warning


@pytest.mark.parametrize("problem", ["unwritable", "full"])
def test_no_room_for_a_run_is_one_error_line_on_the_command_line(
    tmp_path, monkeypatch, capsys, problem
):
    runs, message = no_room(tmp_path, problem, monkeypatch)
    data = tmp_path / "train.csv"
    data.write_bytes(GOOD)
    code = main(["train", str(data), "--epochs", "1", "--runs-dir", str(runs)])
    out, err = capsys.readouterr()
    assert code == 2
    [line] = err.splitlines()
    assert line.startswith(f"error: {message}"), line
    assert "Traceback" not in out + err
    assert RunStore(runs).list() == []  # no run was created
