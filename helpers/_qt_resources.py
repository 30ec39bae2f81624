"""A reader for Qt's binary resource bundles (``.rcc``): GCompris stores its photos in them.

Private: a file-format parser that :mod:`helpers.photos` uses and no learner needs.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path


def read_qt_resources(path: Path | str) -> dict[str, bytes]:
    """Return ``{resource path: bytes}`` for each file in a Qt ``.rcc`` bundle (for ``photos``).
    Format versions 1 to 3; zlib files are unpacked, zstd ones left out (no zstd in Python's
    standard library). ``ValueError`` for a file that is not a Qt resource bundle."""
    blob = Path(path).read_bytes()
    if blob[:4] != b"qres" or len(blob) < 20:
        raise ValueError(f"{path} is not a Qt resource bundle (it does not start with 'qres')")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    if version not in (1, 2, 3):
        raise ValueError(f"{path}: Qt resource format version {version} is not supported (1 to 3 are)")
    node_size = 14 if version == 1 else 22

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", blob[names + offset:names + offset + 2])
        start = names + offset + 6  # 2 bytes length, 4 bytes hash
        return blob[start:start + 2 * length].decode("utf-16-be")

    files: dict[str, bytes] = {}
    stack = [(0, "")]
    while stack:
        index, prefix = stack.pop()
        node = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", blob[node:node + 6])
        name = name_at(name_offset) if index else ""
        if flags & 2:  # a directory: child count, first child index
            count, first = struct.unpack(">II", blob[node + 6:node + 14])
            stack.extend((child, f"{prefix}{name}/" if index else "/") for child in range(first, first + count))
            continue
        (data_offset,) = struct.unpack(">I", blob[node + 10:node + 14])
        start = data + data_offset
        (size,) = struct.unpack(">I", blob[start:start + 4])
        payload = blob[start + 4:start + 4 + size]
        if flags & 4:  # zstd: no reader in the standard library
            continue
        if flags & 1:  # zlib, preceded by the uncompressed size
            payload = zlib.decompress(payload[4:])
        files[prefix + name] = payload
    return files
