"""The FTP examples of docs/SEMANTICS.md, run against a real server: each row in a fresh
session and a fresh directory, its setup first, then the command and the reply code."""

from __future__ import annotations

import ftplib
import io
import re
from pathlib import Path

import pytest

from netutil import HOST

DOC = Path(__file__).resolve().parents[2] / "docs" / "SEMANTICS.md"


def examples(name: str) -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(rf"<!-- examples: {name} -->(.*?)<!-- end examples -->", text, re.S)
    assert block, f"no '{name}' examples in {DOC}"
    rows = [line for line in block.group(1).splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]


ROWS = examples("ftp")


def test_the_document_has_examples():
    assert len(ROWS) >= 20


@pytest.mark.parametrize("row", ROWS, ids=[row[1].strip("`") for row in ROWS])
def test_ftp_example(ossftp, alice, row):
    setup, command, reply = row
    client = ftplib.FTP(encoding="utf-8")
    client.connect(HOST, ossftp.port, timeout=15)
    client.login(alice.username, alice.password)
    folder = "example-" + str(ROWS.index(row))
    client.mkd(folder)
    client.cwd(folder)
    for step in re.findall(r"`([^`]+)`", setup):
        verb, _, argument = step.partition(" ")
        if verb == "PUT":
            client.storbinary(f"STOR {argument}", io.BytesIO(b"example"))
        else:
            client.sendcmd(step)
    try:
        got = client.sendcmd(command.strip("`"))
    except ftplib.all_errors as error:
        got = str(error)
    assert got[:3] == reply, f"{setup} {command}: {got}"
    client.close()
