#!/usr/bin/env python3
"""gpt-wrap.py OUT IN NAME: OUT = a GPT disk with one partition named NAME holding IN's bytes
(starting at 1 MiB), for tests that need a partition name without a partitioning tool."""
import struct, sys, uuid, zlib

SECTOR = 512
out, src, name = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, "rb").read()
data += b"\0" * (-len(data) % SECTOR)
first = 2048
last = first + len(data) // SECTOR - 1
total = last + 1 + 2048
linux_fs = uuid.UUID("0fc63daf-8483-4772-8e79-3d69d8477de4")

entry = linux_fs.bytes_le + uuid.uuid4().bytes_le + struct.pack("<QQQ", first, last, 0)
entry += name.encode("utf-16-le").ljust(72, b"\0")
entries = entry.ljust(128 * 128, b"\0")
disk_guid = uuid.uuid4().bytes_le

def header(current, backup, entries_lba):
    h = struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x00010000, 92, 0, 0, current, backup, 34,
                    total - 34, disk_guid, entries_lba, 128, 128, zlib.crc32(entries))
    h = h[:16] + struct.pack("<I", zlib.crc32(h)) + h[20:]
    return h.ljust(SECTOR, b"\0")

mbr = bytearray(SECTOR)
mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\0\2\0", 0xEE, b"\xff\xff\xff", 1, min(total - 1, 0xFFFFFFFF))
mbr[510:512] = b"\x55\xaa"
with open(out, "wb") as f:
    f.write(mbr + header(1, total - 1, 2) + entries)
    f.seek(first * SECTOR)
    f.write(data)
    f.seek((total - 33) * SECTOR)
    f.write(entries + header(total - 1, 1, total - 33))
