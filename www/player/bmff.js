// A small ISO BMFF reader for the /player page: lists the boxes of a segment
// as the player received it, naming the PIFF boxes and the traces dashpiff
// leaves (a 'free' box that still holds a PIFF usertype, a 'uuid' box whose
// usertype is the UUID form of 'free'). Plain script: sets window.DashpiffBmff.
'use strict';

(function (root) {
  const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'moof', 'traf', 'mvex', 'edts', 'dinf',
    'sinf', 'schi', 'udta']);
  // SPEC §3: PIFF usertypes, and the UUID form of 'free' the original service wrote.
  const USERTYPES = {
    'a2394f525a9b4f14a2446c427c648df4': 'PIFF SampleEncryptionBox',
    '8974dbce7be74c5184f97148f9882554': 'PIFF TrackEncryptionBox',
    'd08a4f1810f34a82b6c832d8aba183d3': 'PIFF ProtectionSystemSpecificHeaderBox',
    '6d1d9b0542d544e680e2141daff757b2': 'tfxd (Smooth timing)',
    'd4807ef2ca3946958e5426cb9e46a79f': 'tfrf (Smooth lookahead)',
    '6672656500110010800000aa00389b71': "UUID form of 'free' (the original service's rewrite)",
  };
  // Boxes whose children start after some fields of their own: stsd
  // (FullBox + entry count), and the protected sample entries holding sinf.
  const SKIP = { stsd: 8, encv: 78, enca: 28 };
  const MAX_BOXES = 400;  // a listing, not a dump: stop long before a huge file

  function fourcc(view, at) {
    let s = '';
    for (let i = 0; i < 4; i++) {
      const c = view.getUint8(at + i);
      s += (c >= 32 && c < 127) ? String.fromCharCode(c) : '.';
    }
    return s;
  }

  function hex(view, at, n) {
    let s = '';
    for (let i = 0; i < n; i++) s += view.getUint8(at + i).toString(16).padStart(2, '0');
    return s;
  }

  // [{depth, type, offset, size, usertype, note}] in file order; stops (with
  // a last entry saying why) at the first box that does not fit.
  function walk(buffer) {
    const view = new DataView(buffer);
    const out = [];
    function level(start, end, depth) {
      let pos = start;
      while (pos + 8 <= end && out.length < MAX_BOXES) {
        let size = view.getUint32(pos);
        const type = fourcc(view, pos + 4);
        let header = 8;
        if (size === 1) {
          if (pos + 16 > end) break;
          size = view.getUint32(pos + 8) * 4294967296 + view.getUint32(pos + 12);
          header = 16;
        } else if (size === 0) {
          size = end - pos;
        }
        if (size < header || pos + size > end) {
          out.push({ depth, type, offset: pos, size, note: 'does not fit its parent: listing stops here' });
          return false;
        }
        const box = { depth, type, offset: pos, size };
        if (type === 'uuid' && size >= header + 16) {
          box.usertype = hex(view, pos + header, 16);
          box.note = USERTYPES[box.usertype] || null;
        } else if (type === 'free' && size >= header + 16) {
          // dashpiff's 4CC rewrite keeps the PIFF usertype inside the box.
          const inside = USERTYPES[hex(view, pos + header, 16)];
          if (inside && inside.startsWith('PIFF')) box.note = 'was ' + inside + " ('uuid' -> 'free')";
        }
        out.push(box);
        const skip = CONTAINERS.has(type) ? 0 : SKIP[type];
        if (skip !== undefined && !level(pos + header + skip, pos + size, depth + 1)) return false;
        pos += size;
      }
      return true;
    }
    level(0, buffer.byteLength, 0);
    return out;
  }

  // The boxes worth showing: everything but what sits inside mdat, as text.
  function describe(buffer) {
    return walk(buffer).map(function (b) {
      return '  '.repeat(b.depth) + b.type + ' ' + b.size + (b.note ? '  <- ' + b.note : '');
    }).join('\n');
  }

  const api = { walk: walk, describe: describe, USERTYPES: USERTYPES };
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else root.DashpiffBmff = api;
})(typeof window !== 'undefined' ? window : this);
