"""TensorBoard event files written without TensorBoard: CRC test vectors and a wire-format decode."""

from __future__ import annotations

import struct
from pathlib import Path

from preimage.training.common import MetricsLog
from preimage.training.tfevents import crc32c, masked_crc32c


def test_crc32c_matches_the_standard_check_values() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value (RFC 3720 / iSCSI)
    assert crc32c(b"\x00" * 32) == 0x8A9136AA  # RFC 3720, B.4: 32 bytes of zeros


def _read_records(path: Path) -> list[bytes]:
    data, out, pos = path.read_bytes(), [], 0
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        (len_crc,) = struct.unpack_from("<I", data, pos + 8)
        assert len_crc == masked_crc32c(data[pos : pos + 8])
        payload = data[pos + 12 : pos + 12 + length]
        (crc,) = struct.unpack_from("<I", data, pos + 12 + length)
        assert crc == masked_crc32c(payload)
        out.append(payload)
        pos += 16 + length
    return out


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    val, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        val |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return val, pos


def _fields(buf: bytes) -> list[tuple[int, object]]:
    """A minimal protobuf wire decoder, written independently of the encoder under test."""
    out: list[tuple[int, object]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
            out.append((number, val))
        elif wire == 1:
            out.append((number, struct.unpack_from("<d", buf, pos)[0]))
            pos += 8
        elif wire == 5:
            out.append((number, struct.unpack_from("<f", buf, pos)[0]))
            pos += 4
        else:
            n, pos = _varint(buf, pos)
            out.append((number, buf[pos : pos + n]))
            pos += n
    return out


def test_metrics_log_writes_readable_scalar_events(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path)
    log.log({"epoch": 3, "val_normalized_error": 0.25, "lr": 1e-3})
    (events,) = list(tmp_path.glob("events.out.tfevents.*"))
    header, *scalars = _read_records(events)
    assert dict(_fields(header))[3] == b"brain.Event:2"
    decoded = {}
    for payload in scalars:
        event = dict(_fields(payload))
        assert event[2] == 3 and event[1] > 1e9  # step, wall time
        (value,) = [v for n, v in _fields(event[5]) if n == 1]
        value_fields = dict(_fields(value))  # type: ignore[arg-type]
        decoded[value_fields[1].decode()] = value_fields[2]  # type: ignore[union-attr]
    assert decoded == {"val_normalized_error": 0.25, "lr": struct.unpack("<f", struct.pack("<f", 1e-3))[0]}


def test_metrics_log_drops_the_half_line_a_kill_left(tmp_path: Path) -> None:
    import json

    log = MetricsLog(tmp_path)
    log.log({"epoch": 1, "val_normalized_error": 0.5})
    with open(tmp_path / "metrics.scalars.jsonl", "a") as fh:
        fh.write('{"tag": "val_normalized_error", "st')  # a process killed mid-append
    log.log({"epoch": 2, "val_normalized_error": 0.4})
    records = [json.loads(line) for line in (tmp_path / "metrics.scalars.jsonl").read_text().splitlines()]
    assert [(r["step"], r["value"]) for r in records] == [(1, 0.5), (2, 0.4)]
