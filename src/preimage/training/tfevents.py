"""TensorBoard scalar event files without TensorBoard: ``tensorboard --logdir RUN`` reads them.

An event file is a sequence of TFRecords (``uint64 length``, masked CRC-32C of
the length, the payload, masked CRC-32C of the payload); each payload is an
``Event`` protocol buffer. Scalars need four fields only, so they are encoded
here by hand: ``Event{wall_time=1 (double), step=2 (int64), file_version=3
(string) | summary=5 {value=1 {tag=1 (string), simple_value=2 (float)}}}``.
"""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum TFRecord uses."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _field(number, 2) + _varint(len(payload)) + payload


def encode_event(wall_time: float, step: int, tag: str | None = None, value: float = 0.0) -> bytes:
    """One ``Event`` message: a scalar summary, or (``tag=None``) the file-version header."""
    head = _field(1, 1) + struct.pack("<d", wall_time) + _field(2, 0) + _varint(step & (2**64 - 1))
    if tag is None:
        return head + _bytes_field(3, b"brain.Event:2")
    summary_value = _bytes_field(1, tag.encode()) + _field(2, 5) + struct.pack("<f", value)
    return head + _bytes_field(5, _bytes_field(1, summary_value))


def record(payload: bytes) -> bytes:
    length = struct.pack("<Q", len(payload))
    return length + struct.pack("<I", masked_crc32c(length)) + payload + struct.pack("<I", masked_crc32c(payload))


class EventWriter:
    """Append scalars to ``RUN/events.out.tfevents.<time>.<host>`` (one file per writer)."""

    def __init__(self, run_dir: str | Path) -> None:
        now = time.time()
        self.path = Path(run_dir) / f"events.out.tfevents.{int(now)}.{socket.gethostname()}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as fh:
            fh.write(record(encode_event(now, 0)))

    def scalar(self, tag: str, value: float, step: int, wall_time: float | None = None) -> None:
        with open(self.path, "ab") as fh:
            fh.write(record(encode_event(wall_time or time.time(), step, tag, float(value))))
