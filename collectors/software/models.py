"""Recognise model files by their content, not their names alone.

Signatures, each checked on the file's first bytes:

- GGUF (llama.cpp): magic "GGUF", then a little-endian uint32 format version.
- TFLite: the FlatBuffer file identifier "TFL3" at offset 4.
- safetensors: a little-endian uint64 header length N, then N bytes of a JSON
  object mapping tensor names to {dtype, shape, data_offsets}.
- PyTorch (torch.save since 1.6): a zip archive with a `<name>/data.pkl` entry.
- TorchServe archive (.mar): a zip archive with MAR-INF/MANIFEST.json.
- ONNX: a protobuf ModelProto, which starts with field 1 (ir_version, tag 0x08)
  as a small varint followed by the tag of another ModelProto field.
- TensorFlow SavedModel: a directory that contains saved_model.pb.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zipfile
from pathlib import Path

logger = logging.getLogger(__name__)

CANDIDATE_SUFFIXES = (
    ".onnx",
    ".pt",
    ".pth",
    ".bin",
    ".safetensors",
    ".gguf",
    ".tflite",
    ".ckpt",
    ".mar",
)
SAVED_MODEL = "saved_model.pb"
# ir_version values defined by onnx.proto up to IR version 10, with headroom.
MAX_ONNX_IR_VERSION = 20
# Tags (field number << 3 | wire type) of ModelProto fields after ir_version:
# producer_name 2, producer_version 3, domain 4, model_version 5 (varint),
# doc_string 6, graph 7, opset_import 8, metadata_props 14.
ONNX_NEXT_TAGS = {0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72}
# safetensors limits its JSON header to 100 MB.
MAX_SAFETENSORS_HEADER = 100_000_000
GGUF_MAX_VERSION = 16


def _varint(data: bytes, start: int) -> tuple[int, int] | None:
    value = 0
    for index in range(start, min(len(data), start + 10)):
        byte = data[index]
        value |= (byte & 0x7F) << (7 * (index - start))
        if not byte & 0x80:
            return value, index + 1
    return None


def is_onnx(head: bytes) -> bool:
    if len(head) < 3 or head[0] != 0x08:
        return False
    decoded = _varint(head, 1)
    if decoded is None:
        return False
    ir_version, end = decoded
    return (
        1 <= ir_version <= MAX_ONNX_IR_VERSION
        and end < len(head)
        and (head[end] in ONNX_NEXT_TAGS)
    )


def _is_safetensors(path: Path, head: bytes, size: int) -> bool:
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (length,) = struct.unpack("<Q", head[:8])
    if not 2 <= length <= min(size - 8, MAX_SAFETENSORS_HEADER):
        return False
    with path.open("rb") as handle:
        handle.seek(8)
        raw = handle.read(length)
    try:
        header = json.loads(raw)
    except ValueError:
        return False
    if not isinstance(header, dict):
        return False
    tensors = [v for k, v in header.items() if k != "__metadata__"]
    return all(isinstance(v, dict) and "dtype" in v for v in tensors)


def _zip_format(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return None
    if any(name == "data.pkl" or name.endswith("/data.pkl") for name in names):
        return "pytorch"
    if "MAR-INF/MANIFEST.json" in names:
        return "torchserve_mar"
    return None


def identify(path: Path) -> str | None:
    """Return the model format of a file, or None when no signature matches.

    Raises OSError when the file cannot be read.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(64)
    if head[:4] == b"GGUF" and len(head) >= 8:
        version = struct.unpack("<I", head[4:8])[0]
        if 1 <= version <= GGUF_MAX_VERSION:
            return "gguf"
    if head[4:8] == b"TFL3":
        return "tflite"
    if head[:2] == b"PK":
        return _zip_format(path)
    if _is_safetensors(path, head, size):
        return "safetensors"
    if path.suffix == ".onnx" and is_onnx(head):
        return "onnx"
    return None


def directory_size(directory: Path) -> int:
    """Sum the sizes of the regular files below a directory, in bytes."""
    total = 0
    for parent, _, files in os.walk(directory):
        for name in files:
            try:
                total += os.lstat(os.path.join(parent, name)).st_size
            except OSError as exc:
                logger.debug("cannot stat %s: %s", name, exc)
    return total
