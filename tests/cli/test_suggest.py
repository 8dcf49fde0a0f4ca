"""`core suggest`: the labelling loop from the command line with the real small model, and the
message each bad input gets."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from core.cli import main

TICKETS = [
    "my card has not arrived yet",
    "when will my new card be delivered",
    "the card you sent never came",
    "I want my money back",
    "please refund my last order",
    "how do I get a refund for this",
    "the app crashes when I open it",
    "login button does nothing",
    "error 500 on the payment page",
    "can I change my delivery address",
    "do you ship to Canada",
    "my parcel is late",
]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_loop_suggests_labels_and_continues(tmp_path, capsys):
    pool = write_lines(tmp_path / "pool.csv", ["text", *TICKETS, TICKETS[0]])
    runs = str(tmp_path / "runs")
    out = tmp_path / "next.csv"
    code, printed, err = run_cli(
        capsys, "suggest", "small", str(pool), "--n", "4", "--labels", "card,refund,bug",
        "--out", str(out), "--runs-dir", runs,
    )  # fmt: skip
    assert code == 0, err
    assert "1 row repeats a text given earlier (row 14): each text is asked once" in err
    assert "Embedding the pool: 12 of 12 texts in" in err
    rows = read_rows(out)
    assert [list(row) for row in rows[:1]] == [["text", "label", "guess", "confidence"]]
    assert len(rows) == 4 and len({row["text"] for row in rows}) == 4
    assert all(row["label"] == "" and row["guess"] in ("card", "refund", "bug") for row in rows)
    assert all(0 < float(row["confidence"]) <= 1 for row in rows)
    assert printed.startswith(
        "Wrote 4 texts to label to " + str(out) + " (0 of 12 pool texts labelled; the model "
        "learnt from 0 labelled texts, 3 label names and the "
    )
    assert f"--train {out} --out {tmp_path / 'next-next.csv'} --runs-dir {runs}" in printed

    # The person labels the file (one skipped) and passes it back: the loop continues.
    answers = {"card": "card", "refund": "refund", "money": "refund", "crash": "bug"}
    for row in rows:
        row["label"] = next((a for key, a in answers.items() if key in row["text"]), "skip")
    with open(out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ["text", "label", "guess", "confidence"])
        writer.writeheader()
        writer.writerows(rows)
    labelled = sum(row["label"] != "skip" for row in rows)
    started = time.perf_counter()
    nxt = tmp_path / "next2.csv"
    code, printed, err = run_cli(
        capsys, "suggest", "small", str(pool), "--n", "3", "--train", str(out),
        "--labels", "card,refund,bug", "--out", str(nxt), "--runs-dir", runs,
    )  # fmt: skip
    assert code == 0, err
    assert "Embedding the pool" not in err  # kept from the first call
    assert time.perf_counter() - started < 30
    again = read_rows(nxt)
    asked = {row["text"] for row in rows}
    assert len(again) == 3 + 4
    assert not {row["text"] for row in again[:3]} & asked  # never asked twice
    assert {(row["text"], row["label"]) for row in again[3:]} == {
        (row["text"], row["label"]) for row in rows
    }  # the answers travel with the file
    assert f"({labelled} of 12 pool texts labelled; the model learnt from {labelled}" in printed


def test_labels_that_say_nothing_start_from_the_pools_groups(tmp_path, capsys):
    pool = write_lines(tmp_path / "pool.txt", TICKETS)
    out = tmp_path / "next.csv"
    code, printed, err = run_cli(
        capsys, "suggest", "small", str(pool), "--n", "3", "--labels", "0,1",
        "--out", str(out), "--runs-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    assert code == 0, err
    assert (
        "warning: labels '0', '1': no example yet, and the name says nothing the model can use: "
        "it cannot guess them until a text is labelled so"
    ) in err
    assert "no guesses yet: no two labels have an example" in printed
    assert [row["guess"] for row in read_rows(out)] == ["", "", ""]


@pytest.mark.parametrize(
    ("lines", "labels", "message"),
    [
        ([], "a,b", "error: pool.csv has no texts: expected one text per row"),
        (
            ["refund please", "refund please"],
            "a,b",
            "error: pool.csv has one text ('refund please', repeated): labelling chooses",
        ),
        (TICKETS, "card,refund,card", "error: label 'card' is given twice: give each label once"),
        (TICKETS, "Card,refund,card", "error: labels 'Card' and 'card' differ only in case"),
        (TICKETS, "card", "error: give at least 2 labels (only 'card')"),
    ],
)
def test_bad_input(tmp_path, capsys, lines, labels, message):
    pool = write_lines(tmp_path / "pool.csv", lines)
    out = tmp_path / "next.csv"
    code, _, err = run_cli(
        capsys, "suggest", "small", str(pool), "--labels", labels, "--out", str(out),
        "--runs-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(message)
    assert not out.exists()


def test_a_huge_pool_is_sampled_and_says_so_at_once(tmp_path, capsys):
    pool = write_lines(tmp_path / "pool.csv", [f"ticket number {i}" for i in range(200_000)])
    started = time.perf_counter()
    # A bad label list stops the command right after the pool is read: reading and sampling
    # 200,000 texts must not hang.
    code, _, err = run_cli(
        capsys, "suggest", "small", str(pool), "--labels", "only", "--out",
        str(tmp_path / "n.csv"), "--runs-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    assert time.perf_counter() - started < 30
    assert code == 2
    assert (
        "warning: pool.csv has 200,000 different texts: a random sample of 10,000 (seed 0) is "
        "labelled from, every text that has a label among them; split the file to label the rest"
    ) in err


def test_conflicting_answers_in_the_labelled_file(tmp_path, capsys):
    pool = write_lines(tmp_path / "pool.csv", TICKETS)
    train = tmp_path / "labelled.csv"
    train.write_text(
        f"text,label\n{TICKETS[0]},card\n{TICKETS[3]},refund\n{TICKETS[0]},refund\n",
        encoding="utf-8",
    )
    code, _, err = run_cli(
        capsys, "suggest", "small", str(pool), "--train", str(train), "--out",
        str(tmp_path / "n.csv"), "--runs-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    assert code == 2
    assert err == (
        "error: labelled.csv: rows 2, 4 give the text 'my card has not arrived yet' two answers "
        "('card' and 'refund'): keep one\n"
    )


def test_a_run_labels_more_with_its_own_labels(run_copy, tmp_path, capsys):
    from core.model.classifier import load_classifier_dir

    run = load_classifier_dir(run_copy.store.path(run_copy.run_id))
    pool = write_lines(tmp_path / "pool.csv", TICKETS)
    out = tmp_path / "next.csv"
    code, printed, err = run_cli(
        capsys, "suggest", run_copy.run_id, str(pool), "--n", "2", "--out", str(out),
        "--runs-dir", str(run_copy.root),
    )  # fmt: skip
    assert code == 0, err
    labels = [str(label) for label in run.classes_]
    assert all(row["guess"] in labels for row in read_rows(out))
    assert f"--labels {','.join(labels)}" in printed
    trained = len(run_copy.store.load_dataset(run_copy.run_id).train)
    assert f"({trained} of them the run's training rows)" in printed  # they teach from the start
