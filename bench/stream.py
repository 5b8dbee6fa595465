"""The benchmark stream: a DASH presentation with several representations
whose media segments carry CENC and PIFF sample-encryption boxes side by side
(what PIFF-compatible packagers write), at bitrates that give segments of
about 250 KB (640x360, 1 Mbit/s CBR) and 1 MB (1280x720, 4 Mbit/s CBR) for
2 s segments, plus a 128 kbit/s audio representation.

Made at bench time the way scripts/make-fixtures.sh makes the test streams
(ffmpeg, then the project's fixture encryptor tests/fixtures/piffcrypt, then
tests/fixtures/mpd_fixtures.py for ContentProtection), and cached under
bench/.cache keyed by this file's content, so editing the recipe remakes it.

Also makes the 500 MB segment for the streaming check: the moof of a real
1 MB segment (PIFF box included) followed by one mdat of 500 MB whose payload
is a hole in a sparse file.
"""
import glob
import hashlib
import os
import shutil
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
CACHE = os.path.join(HERE, ".cache")

# The fixed test key of tests/data/streams (any key would do: nobody decrypts).
KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
KID = "00112233445566778899aabbccddeeff"

DURATION_S = 12
SEGMENT_S = 2
# Representation id -> what the benchmark calls it. ffmpeg numbers the
# representations in -map order.
SMALL_REP = "0"   # ~250 KB segments
LARGE_REP = "1"   # ~1 MB segments
AUDIO_REP = "2"
HUGE_NAME = "huge.m4s"
HUGE_BYTES = 500 * 1000 * 1000


def _cache_key():
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def _run(cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


def piffcrypt_binary(build_dir, scratch):
    """The fixture encryptor from the build tree (`make tests/fixtures/piffcrypt`);
    when that build cannot make it, compiled here from tests/fixtures like
    scripts/make-fixtures.sh does."""
    target = os.path.join(build_dir, "tests", "fixtures", "piffcrypt")
    made = subprocess.run(["make", "-C", build_dir, "-s", "tests/fixtures/piffcrypt"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if made.returncode == 0 and os.access(target, os.X_OK):
        return target
    target = os.path.join(scratch, "piffcrypt")
    sources = sorted(glob.glob(os.path.join(TOP, "tests", "fixtures", "*.cpp")))
    _run([os.environ.get("CXX", "g++"), "-std=c++17", "-O2", "-o", target] + sources + ["-lcrypto"])
    return target


def _encode_clear(out_dir):
    os.makedirs(out_dir)
    video = f"testsrc2=size=1280x720:rate=25:duration={DURATION_S}"
    # Audio stops just short of the end so AAC priming does not spill into a
    # last, nearly empty segment.
    audio = f"sine=frequency=440:sample_rate=48000:duration={DURATION_S - 0.03}"
    _run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
          "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio,
          "-filter_complex", "[0:v]split=2[a][b];[a]scale=640:360[v0];[b]null[v1]",
          "-map", "[v0]", "-map", "[v1]", "-map", "1:a",
          "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-profile:v", "main",
          "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
          # CBR with filler: segment sizes are what the bitrate says.
          "-b:v:0", "1M", "-minrate:v:0", "1M", "-maxrate:v:0", "1M", "-bufsize:v:0", "1M",
          "-b:v:1", "4M", "-minrate:v:1", "4M", "-maxrate:v:1", "4M", "-bufsize:v:1", "4M",
          "-x264-params", "nal-hrd=cbr",
          "-c:a", "aac", "-b:a", "128k", "-ac", "2",
          "-flags", "+bitexact", "-fflags", "+bitexact",
          "-f", "dash", "-seg_duration", str(SEGMENT_S), "-use_template", "1", "-use_timeline", "0",
          "-adaptation_sets", "id=0,streams=v id=1,streams=a",
          "-init_seg_name", "init-$RepresentationID$.mp4",
          "-media_seg_name", "seg-$RepresentationID$-$Number$.m4s",
          os.path.join(out_dir, "manifest.mpd")])


def _encrypt(clear_dir, out_dir, piffcrypt):
    os.makedirs(out_dir)
    for init in sorted(glob.glob(os.path.join(clear_dir, "init-*.mp4"))):
        rep = os.path.basename(init)[len("init-"):-len(".mp4")]
        _run([piffcrypt, "init", "--kid", KID, init, os.path.join(out_dir, f"init-{rep}.mp4")])
        for seg in sorted(glob.glob(os.path.join(clear_dir, f"seg-{rep}-*.m4s"))):
            _run([piffcrypt, "media", "--key", KEY, "--kid", KID, "--piff", "beside",
                  init, seg, os.path.join(out_dir, os.path.basename(seg))])
    _run(["python3", os.path.join(TOP, "tests", "fixtures", "mpd_fixtures.py"), "protect", "--kid", KID,
          os.path.join(clear_dir, "manifest.mpd"), os.path.join(out_dir, "manifest.mpd")])


def top_level_boxes(data):
    """[(type, offset, size)] of the top-level boxes of a segment."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
        elif size == 0:
            size = len(data) - offset
        if size < 8 or offset + size > len(data):
            raise ValueError(f"bad box {kind!r} at {offset}")
        boxes.append((kind.decode("latin-1"), offset, size))
        offset += size
    return boxes


def _make_huge(stream_dir):
    """styp + the moof of the first 1 MB segment + a 500 MB mdat. The mdat
    starts with the real samples the moof describes; the rest is a hole."""
    with open(os.path.join(stream_dir, f"seg-{LARGE_REP}-1.m4s"), "rb") as f:
        data = f.read()
    boxes = {kind: (off, size) for kind, off, size in top_level_boxes(data)}
    head = b""
    if "styp" in boxes:
        off, size = boxes["styp"]
        head += data[off:off + size]
    off, size = boxes["moof"]
    head += data[off:off + size]
    mdat_off, mdat_size = boxes["mdat"]
    payload = data[mdat_off + 8:mdat_off + mdat_size]
    mdat_total = HUGE_BYTES - len(head)
    path = os.path.join(stream_dir, HUGE_NAME)
    with open(path, "wb") as f:
        f.write(head)
        f.write(struct.pack(">I4s", mdat_total, b"mdat"))
        f.write(payload)
        f.truncate(HUGE_BYTES)
    return path


def _check_sizes(stream_dir):
    """The recipe is only useful if the segments have the sizes it promises."""
    for rep, low, high in ((SMALL_REP, 180_000, 350_000), (LARGE_REP, 800_000, 1_300_000)):
        sizes = [os.path.getsize(p) for p in glob.glob(os.path.join(stream_dir, f"seg-{rep}-*.m4s"))]
        if not sizes:
            raise RuntimeError(f"no segments for representation {rep}")
        mean = sum(sizes) / len(sizes)
        if not low <= mean <= high:
            raise RuntimeError(f"representation {rep}: mean segment {mean:.0f} B, wanted {low}..{high}")


def ensure_stream(build_dir, log=print):
    """Directory holding manifest.mpd, init-*.mp4, seg-*.m4s and huge.m4s
    (served by the origin as /bench/...). Made once per recipe version."""
    key = _cache_key()
    root = os.path.join(CACHE, f"stream-{key}")
    stream_dir = os.path.join(root, "bench")
    if os.path.exists(os.path.join(root, "complete")):
        return root
    # Older recipes' streams are of no further use.
    for old in glob.glob(os.path.join(CACHE, "stream-*")):
        shutil.rmtree(old, ignore_errors=True)
    scratch = os.path.join(CACHE, f"work-{key}")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    log(f"making the benchmark stream in {root} (cached for later runs)")
    piffcrypt = piffcrypt_binary(build_dir, scratch)
    clear = os.path.join(scratch, "clear")
    _encode_clear(clear)
    _encrypt(clear, stream_dir, piffcrypt)
    _check_sizes(stream_dir)
    _make_huge(stream_dir)
    shutil.rmtree(scratch, ignore_errors=True)
    with open(os.path.join(root, "complete"), "w") as f:
        f.write(key + "\n")
    return root


def segment_names(stream_root, rep):
    names = glob.glob(os.path.join(stream_root, "bench", f"seg-{rep}-*.m4s"))
    return sorted((os.path.basename(n) for n in names), key=lambda n: int(n.rsplit("-", 1)[1].split(".")[0]))
