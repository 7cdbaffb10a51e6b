"""``preimage explore``: the command line binds this machine only unless told, and warns when told."""

from __future__ import annotations

from typing import Any

import pytest

import preimage.explore
from preimage.cli.main import main


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_serve(host: str, port: int, explorer: Any) -> None:
        calls.append({"host": host, "port": port, "pending": explorer.jobs.max_pending})
        explorer.close()

    monkeypatch.setattr(preimage.explore, "serve", fake_serve)
    return calls


def test_default_binds_localhost_without_a_warning(served: list[dict[str, Any]], capsys: Any) -> None:
    assert main(["explore"]) == 0
    assert served == [{"host": "127.0.0.1", "port": 7860, "pending": 8}]
    assert "warning" not in capsys.readouterr().err


def test_another_host_warns(served: list[dict[str, Any]], capsys: Any) -> None:
    assert main(["explore", "--host", "0.0.0.0", "--port", "8123", "--max-jobs", "3"]) == 0
    assert served == [{"host": "0.0.0.0", "port": 8123, "pending": 3}]
    err = capsys.readouterr().err
    assert "warning: serving on 0.0.0.0" in err and "--host 127.0.0.1" in err


def test_bad_port_is_a_one_line_error(served: list[dict[str, Any]], capsys: Any) -> None:
    assert main(["explore", "--port", "70000"]) == 2
    assert "--port must be between 1 and 65535" in capsys.readouterr().err
    assert served == []
