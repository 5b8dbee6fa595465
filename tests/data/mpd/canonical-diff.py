#!/usr/bin/env python3
"""Shows what the MPD rewrite changed, ignoring attribute order and layout.

    tests/data/mpd/canonical-diff.py NAME.mpd NAME.expected.mpd

Xerces-C keeps attributes sorted by name, so a plain diff of a rewrite
against its input is mostly noise; this compares the C14N 2.0 forms instead.
Remote element entities (several top-level elements) are wrapped first.
"""
import difflib
import sys
import xml.etree.ElementTree as ET


def canonical_lines(path):
    text = open(path, 'rb').read().decode('utf-8-sig')
    if text.startswith('<?xml'):
        text = text[text.index('?>') + 2:]
    try:
        canon = ET.canonicalize(text, strip_text=True)
    except ET.ParseError:
        canon = ET.canonicalize('<remote-elements>' + text + '</remote-elements>', strip_text=True)
    return canon.replace('><', '>\n<').splitlines()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    before, after = (canonical_lines(p) for p in sys.argv[1:])
    changed = False
    for line in difflib.unified_diff(before, after, sys.argv[1], sys.argv[2], lineterm='', n=0):
        if not line.startswith('@@'):
            print(line)
            changed = True
    sys.exit(1 if changed else 0)


if __name__ == '__main__':
    main()
