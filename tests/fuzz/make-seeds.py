#!/usr/bin/env python3
"""Writes seed inputs for the fuzz targets (issue #12): PIFF override boxes
with IV sizes 0, 8 and 16, with and without subsamples, counts that the bytes
hold and counts that they do not; and MPD shapes that stress the manifest
limits (deep nesting, many flat elements, many attributes, long text).

    tests/fuzz/make-seeds.py segment DIR    # for fuzz_segment and fuzz_boxes
    tests/fuzz/make-seeds.py mpd DIR        # for fuzz_mpd and fuzz_mpd_prescan

Each file starts with the option byte the targets read."""
import os
import struct
import sys

PIFF_SENC = bytes.fromhex("a2394f525a9b4f14a2446c427c648df4")


def box(kind, body):
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full(version, flags, body=b""):
    return struct.pack(">I", (version << 24) | flags) + body


def piff_fragment(iv, subsamples, samples, declared=None, override=True):
    declared = samples if declared is None else declared
    entries = b""
    for i in range(samples):
        entries += bytes([i & 0xFF]) * iv
        if subsamples:
            entries += struct.pack(">H", 2) + struct.pack(">HI", 16, 100) * 2
    flags = (1 if override else 0) | (2 if subsamples else 0)
    body = full(0, flags)
    if override:
        body += struct.pack(">I", 1)[1:] + bytes([iv]) + bytes(range(16))
    body += struct.pack(">I", declared) + entries
    piff = box(b"uuid", PIFF_SENC + body)
    tfhd = box(b"tfhd", full(0, 0x020000, struct.pack(">I", 1)))
    trun = box(b"trun", full(0, 0x000201, struct.pack(">Ii", declared, 0) + struct.pack(">I", 232) * samples))
    traf = box(b"traf", tfhd + box(b"tfdt", full(0, 0, struct.pack(">I", 0))) + trun + piff)
    moof = box(b"moof", box(b"mfhd", full(0, 0, struct.pack(">I", 1))) + traf)
    # data_offset: just past the moof and the mdat header
    at = moof.find(b"trun") + 4 + 4 + 4
    moof = moof[:at] + struct.pack(">i", len(moof) + 8) + moof[at + 4:]
    return moof + box(b"mdat", bytes(232 * samples))


def segment_seeds():
    for iv in (0, 8, 16):
        for subs in (False, True):
            yield f"piff-override-iv{iv}{'-subs' if subs else ''}", piff_fragment(iv, subs, 4)
            yield f"piff-override-iv{iv}{'-subs' if subs else ''}-huge-count", piff_fragment(iv, subs, 2, 0xFFFFFFFF)
    for iv in (8, 16):
        yield f"piff-inferred-iv{iv}", piff_fragment(iv, False, 3, override=False)
    yield "piff-override-iv0-bomb", piff_fragment(0, False, 0, 0xFFFFFFF0)


def mpd_doc(inner):
    return ('<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
            'mediaPresentationDuration="PT10S"><Period><AdaptationSet><Representation id="1" bandwidth="1">'
            + inner + '<SegmentTemplate media="s$Number$.m4s" initialization="i.mp4"/>'
            '</Representation></AdaptationSet></Period></MPD>\n').encode()


def mpd_seeds():
    yield "nested", mpd_doc("<a>" * 300 + "</a>" * 300)
    yield "flat", mpd_doc("<S d=\"1\"/>" * 2000)
    yield "attributes", mpd_doc("<x " + " ".join(f"a{i}=\"{i}\"" for i in range(500)) + "/>")
    yield "long-attribute", mpd_doc("<x a=\"" + "y" * 5000 + "\"/>")
    yield "long-text", mpd_doc("<BaseURL>" + "z" * 5000 + "</BaseURL>")
    yield "comment-cdata-pi", mpd_doc("<!-- c --><![CDATA[ <a> ]]><?pi x?>")
    # MPD patch documents (ISO/IEC 23009-1 §5.15): operations whose selectors
    # put BaseURL, Location and Period at each level, by element and by text.
    yield "patch", ('<?xml version="1.0"?>\n<Patch xmlns="urn:mpeg:dash:schema:mpd-patch:2020" '
                    'xmlns:p="urn:ietf:params:xml:schema:patchops" mpdId="a" publishTime="2026-01-01T00:00:00Z">'
                    '<p:replace sel="/MPD/BaseURL[1]"><BaseURL>cdn2/</BaseURL></p:replace>'
                    '<p:replace sel="/MPD/BaseURL[@serviceLocation=\'a/b\']/text()">//h/x/</p:replace>'
                    '<p:add sel="/MPD" pos="prepend"><BaseURL>http://c.example/a/</BaseURL></p:add>'
                    '<p:add sel="/MPD/Period[@id=\'1\']"><BaseURL>/p/</BaseURL></p:add>'
                    '<p:replace sel="/MPD/Location/text()">n.mpd</p:replace>'
                    '<p:add sel="/MPD" type="@x">y</p:add>'
                    '<p:add sel="/MPD"><Period id="2"><BaseURL>../q/</BaseURL><AdaptationSet>'
                    '<SegmentTemplate media="s-$Number$.m4s"/><Representation id="r" bandwidth="1"/>'
                    '</AdaptationSet></Period></p:add></Patch>\n').encode()
    # Addresses a browser's URL parser reads otherwise than RFC 3986 ('\\' as
    # '/', "%2e" dot segments, "https:x", "///h"), under two alternatives.
    yield "browser-reading", ('<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
                              'mediaPresentationDuration="PT10S"><BaseURL>https://a.example/r/s/</BaseURL>'
                              '<BaseURL>http://b.example/m/r/s/</BaseURL><Location>..\\n.mpd</Location><Period>'
                              '<AdaptationSet><BaseURL>v\\%2E/</BaseURL><SegmentTemplate media="..\\$RepresentationID$\\s-$Number$.m4s"'
                              ' initialization="%2e%2e/i.mp4?q=\\"/><Representation id="a%2Eb" bandwidth="1"/>'
                              '<Representation id="x" bandwidth="2"><BaseURL>https:w/</BaseURL></Representation>'
                              '</AdaptationSet><AdaptationSet><SegmentList><SegmentURL media="\\\\c.example\\1.m4s"/>'
                              '<SegmentURL media="///c.example/2.m4s"/><SegmentURL media=".%2E/3.m4s"/></SegmentList>'
                              '<Representation id="y" bandwidth="1"/></AdaptationSet></Period></MPD>\n').encode()

    # Format tags dash.js and Shaka fill with hex and octal digits ("%0Nx",
    # "%0NX", "%0No"), in relative and absolute templates.
    yield "format-tags", ('<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
                          'mediaPresentationDuration="PT10S"><BaseURL>https://a.example/r/s/</BaseURL><Period>'
                          '<AdaptationSet><SegmentTemplate media="../$Bandwidth%03o$/s-$Number%05x$-$Time%08X$.m4s"'
                          ' initialization="https://c.example/$RepresentationID$/i-$Bandwidth%06X$.mp4?n=$Number%04o$"/>'
                          '<Representation id="a" bandwidth="3000000"/><Representation id="b" bandwidth="10"/>'
                          '</AdaptationSet></Period></MPD>\n').encode()


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("segment", "mpd"):
        sys.exit(__doc__)
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    seeds = segment_seeds() if sys.argv[1] == "segment" else mpd_seeds()
    for name, data in seeds:
        for option in ((b"\x00", b"\x06", b"\x07", b"\x08", b"\x09") if sys.argv[1] == "segment" else (b"\x03", b"\x0e", b"\x13", b"\x1e")):
            with open(os.path.join(out, f"gen-{name}-{option[0]}"), "wb") as f:
                f.write(option + data)


main()
