"""An independent, minimal ISO BMFF walker for the tests (it shares no code
with the C++ engine, so it can judge it)."""
import struct

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"moof", b"traf", b"mvex", b"edts", b"dinf",
              b"sinf", b"schi", b"udta"}
PIFF_SENC = bytes.fromhex("a2394f525a9b4f14a2446c427c648df4")
PIFF_TENC = bytes.fromhex("8974dbce7be74c5184f97148f9882554")
PIFF_PSSH = bytes.fromhex("d08a4f1810f34a82b6c832d8aba183d3")


def walk(data, start=0, end=None, depth=0, path=()):
    """Yields (path, type, offset, size, header_size, usertype) for every box."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, = struct.unpack_from(">I", data, pos)
        typ = data[pos + 4:pos + 8]
        header = 8
        if size == 1:
            size, = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"bad box {typ!r} at {pos}")
        usertype = None
        if typ == b"uuid":
            usertype = data[pos + header:pos + header + 16]
            header += 16
        yield (path + (typ,), typ, pos, size, header, usertype)
        if typ in CONTAINERS:
            yield from walk(data, pos + header, pos + size, depth + 1, path + (typ,))
        pos += size


def find(data, typ, usertype=None):
    return [b for b in walk(data) if b[1] == typ and (usertype is None or b[5] == usertype)]
