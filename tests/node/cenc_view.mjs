// Independent view of a media segment's sample encryption, read with
// mp4box.js (GPAC's reader, not dashpiff's):
//
//   node cenc_view.mjs --source cenc|piff INIT SEGMENT
//   node cenc_view.mjs --init INIT
//
// Prints JSON: per moof and traf, every sample's IV, subsample map and a hash
// of its bytes (located through trun data_offset), plus a hash of every mdat
// payload and the count of PIFF sample-encryption boxes left.
//   --source cenc: auxiliary information located the way a CENC player does,
//                  through saiz sizes and the saio offset (IV size from a
//                  'seig' sample group, else the init segment's tenc);
//   --source piff: decoded from the PIFF SampleEncryptionBox (IV size from
//                  its override fields, else the init's tenc / PIFF tenc).
// --init prints the init segment's protection boxes: schm, tenc, pssh, and
// the PIFF uuid boxes left. Exits 1 with a message on anything it cannot read.
import { createFile, MP4BoxBuffer } from 'mp4box';
import crypto from 'node:crypto';
import fs from 'node:fs';

const PIFF_SENC = 'a2394f525a9b4f14a2446c427c648df4';
const PIFF_TENC = '8974dbce7be74c5184f97148f9882554';
const PIFF_PSSH = 'd08a4f1810f34a82b6c832d8aba183d3';
const DEFAULT_BASE_IS_MOOF = 0x020000;

function fail(message) {
  process.stderr.write(`cenc_view: ${message}\n`);
  process.exit(1);
}

function parse(path) {
  const bytes = fs.readFileSync(path);
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const file = createFile(true);
  file.appendBuffer(MP4BoxBuffer.fromArrayBuffer(ab, 0));
  file.flush();
  return { bytes, file };
}

// Every box reachable from the top level, whatever property holds it.
function walk(boxes, visit, seen = new Set()) {
  for (const b of boxes) {
    if (!b || typeof b !== 'object' || seen.has(b)) continue;
    seen.add(b);
    if (typeof b.type === 'string' && typeof b.start === 'number') visit(b);
    for (const v of Object.values(b)) {
      if (Array.isArray(v)) walk(v, visit, seen);
      else if (v && typeof v === 'object' && typeof v.type === 'string' && typeof v.start === 'number')
        walk([v], visit, seen);
    }
  }
}

function usertype(bytes, box) {
  // 'uuid' header: size(4) type(4) [largesize(8)] usertype(16)
  const at = box.start + (bytes.readUInt32BE(box.start) === 1 ? 16 : 8);
  return bytes.subarray(at, at + 16).toString('hex');
}

function initIvSize(init) {
  let iv;
  walk(init.file.boxes, (b) => {
    if (b.type === 'tenc') iv = b.default_Per_Sample_IV_Size;
    else if (b.type === 'uuid' && usertype(init.bytes, b) === PIFF_TENC && iv === undefined) {
      // PIFF TrackEncryptionBox: FullBox, AlgorithmID(24), IV_size(8), KID
      const at = b.start + 8 + 16 + 4;
      iv = init.bytes[at + 3];
    }
  });
  if (iv === undefined) fail('init segment has no tenc (nor PIFF TrackEncryptionBox)');
  return iv;
}

const sha = (buf) => crypto.createHash('sha256').update(buf).digest('hex').slice(0, 16);

function readEntries(bytes, pos, end, count, ivSize, subsamples, sizes) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const start = pos;
    const limit = sizes ? start + sizes[i] : end;
    if (pos + ivSize > limit) fail(`sample ${i}: IV runs past its data`);
    const entry = { iv: bytes.subarray(pos, pos + ivSize).toString('hex'), subsamples: [] };
    pos += ivSize;
    const hasSubs = sizes ? sizes[i] > ivSize : subsamples;
    if (hasSubs) {
      const n = bytes.readUInt16BE(pos);
      pos += 2;
      for (let k = 0; k < n; k++) {
        entry.subsamples.push([bytes.readUInt16BE(pos), bytes.readUInt32BE(pos + 2)]);
        pos += 6;
      }
    }
    if (pos > limit) fail(`sample ${i}: entry runs past its data`);
    if (sizes && pos !== limit) fail(`sample ${i}: saiz says ${sizes[i]} bytes, entry has ${pos - start}`);
    out.push(entry);
  }
  if (!sizes && pos !== end) fail(`${end - pos} bytes left after ${count} PIFF entries`);
  return out;
}

function cencEntries(seg, moof, traf, defaultIv) {
  const { saiz, saio } = traf;
  if (!saiz || !saio) fail(`traf ${traf.tfhd.track_id}: no saiz/saio`);
  let ivSize = defaultIv;
  for (const g of traf.sgpds || [])
    if (g.grouping_type === 'seig' && g.entries && g.entries[0]) ivSize = g.entries[0].Per_Sample_IV_Size;
  const sizes = [];
  for (let i = 0; i < saiz.sample_count; i++)
    sizes.push(saiz.default_sample_info_size || saiz.sample_info_size[i]);
  if (saio.offset.length !== 1) fail('saio with more than one offset is not handled here');
  let pos = moof.start + Number(saio.offset[0]);
  return readEntries(seg.bytes, pos, undefined, saiz.sample_count, ivSize, false, sizes);
}

function piffEntries(seg, traf, defaultIv) {
  const boxes = (traf.boxes || []).filter((b) => b.type === 'uuid' && usertype(seg.bytes, b) === PIFF_SENC);
  if (boxes.length !== 1) fail(`traf ${traf.tfhd.track_id}: ${boxes.length} PIFF sample-encryption boxes`);
  const b = boxes[0];
  const bytes = seg.bytes;
  let pos = b.start + (bytes.readUInt32BE(b.start) === 1 ? 16 : 8) + 16;
  const flags = bytes.readUInt32BE(pos) & 0xffffff;
  pos += 4;
  let ivSize = defaultIv;
  if (flags & 1) {
    ivSize = bytes[pos + 3];
    pos += 20;
  }
  const count = bytes.readUInt32BE(pos);
  pos += 4;
  return readEntries(bytes, pos, b.start + b.size, count, ivSize, (flags & 2) !== 0, null);
}

function view(source, initPath, segPath) {
  const init = parse(initPath);
  const seg = parse(segPath);
  const defaultIv = initIvSize(init);
  const result = { moofs: [], mdats: [], piff_boxes: 0 };
  walk(seg.file.boxes, (b) => {
    if (b.type === 'uuid' && usertype(seg.bytes, b) === PIFF_SENC) result.piff_boxes++;
  });
  for (const top of seg.file.boxes) {
    if (top.type === 'mdat')
      result.mdats.push(sha(seg.bytes.subarray(top.start + top.hdr_size, top.start + top.size)));
    if (top.type !== 'moof') continue;
    const moof = { sequence: top.mfhd.sequence_number, trafs: [] };
    for (const traf of top.trafs) {
      const tfhd = traf.tfhd;
      if (!(tfhd.flags & DEFAULT_BASE_IS_MOOF)) fail('only default-base-is-moof fragments are handled');
      const entries = source === 'cenc' ? cencEntries(seg, top, traf, defaultIv) : piffEntries(seg, traf, defaultIv);
      const samples = [];
      for (const trun of traf.truns) {
        let pos = top.start + trun.data_offset;
        for (let i = 0; i < trun.sample_count; i++) {
          const size = trun.flags & 0x200 ? trun.sample_size[i] : tfhd.default_sample_size;
          samples.push(sha(seg.bytes.subarray(pos, pos + size)));
          pos += size;
        }
      }
      if (samples.length !== entries.length)
        fail(`traf ${tfhd.track_id}: ${samples.length} samples but ${entries.length} encryption entries`);
      moof.trafs.push({
        track: tfhd.track_id,
        samples: samples.map((data, i) => ({ data, iv: entries[i].iv, subsamples: entries[i].subsamples })),
      });
    }
    result.moofs.push(moof);
  }
  if (result.moofs.length === 0) fail(`${segPath}: no moof`);
  return result;
}

function initView(path) {
  const init = parse(path);
  const out = { schemes: [], tencs: [], pssh_systems: [], piff_boxes: 0 };
  walk(init.file.boxes, (b) => {
    if (b.type === 'schm') out.schemes.push(`${b.scheme_type} 0x${b.scheme_version.toString(16).padStart(8, '0')}`);
    else if (b.type === 'tenc')
      out.tencs.push({ protected: b.default_isProtected, iv_size: b.default_Per_Sample_IV_Size, kid: String(b.default_KID).replace(/-/g, '') });
    else if (b.type === 'pssh') out.pssh_systems.push(String(b.system_id).replace(/-/g, ''));
    else if (b.type === 'uuid' && [PIFF_SENC, PIFF_TENC, PIFF_PSSH].includes(usertype(init.bytes, b))) out.piff_boxes++;
  });
  return out;
}

const args = process.argv.slice(2);
if (args.length === 2 && args[0] === '--init') {
  process.stdout.write(JSON.stringify(initView(args[1])) + '\n');
  process.exit(0);
}
if (args.length !== 4 || args[0] !== '--source' || !['cenc', 'piff'].includes(args[1]))
  fail('usage: node cenc_view.mjs --source cenc|piff INIT SEGMENT');
process.stdout.write(JSON.stringify(view(args[1], args[2], args[3]), null, 1) + '\n');
