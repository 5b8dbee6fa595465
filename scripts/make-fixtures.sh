#!/bin/sh
# Regenerates every test stream under tests/data/streams: ffmpeg encodes a tiny
# clear H.264/AAC DASH presentation, piffcrypt (tests/fixtures) encrypts it
# into the CENC/PIFF shapes the proxy must handle, mpd_fixtures.py adds
# ContentProtection and writes the manifest variants, ondemand_fixtures.py
# packs live streams into on-demand files (SegmentBase + sidx).
#
# Usage: scripts/make-fixtures.sh
#   PIFFCRYPT=/path/to/piffcrypt  use an already built encryptor
#                                 (default: compile tests/fixtures/*.cpp here)
# Output is deterministic for a given ffmpeg/x264 build; commit the result.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
fixtures=$top/tests/fixtures
streams=$top/tests/data/streams

# The fixed test key. Documented in tests/data/streams/README.md.
KEY=0f1e2d3c4b5a69788796a5b4c3d2e1f0
KID=00112233445566778899aabbccddeeff

for tool in ffmpeg python3; do
    command -v "$tool" >/dev/null || { echo "make-fixtures: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

piffcrypt=${PIFFCRYPT:-}
if [ -z "$piffcrypt" ]; then
    piffcrypt=$work/piffcrypt
    ${CXX:-g++} -std=c++17 -O2 -Wall -Wextra -o "$piffcrypt" "$fixtures"/*.cpp -lcrypto
fi

# encode_test_source OUTPUT_OPTIONS...: 6 s of 160x90 testsrc + 440 Hz sine,
# one keyframe every 2 s, bit-exact. Audio stops just short of 6 s so that AAC
# priming does not spill into a fourth, nearly empty segment.
encode_test_source() {
    ffmpeg -nostdin -hide_banner -loglevel error \
        -f lavfi -i testsrc=size=160x90:rate=25:duration=6 \
        -f lavfi -i sine=frequency=440:sample_rate=48000:duration=5.97 \
        -map 0:v -map 1:a \
        -pix_fmt yuv420p -c:v libx264 -preset veryfast -profile:v main -b:v 60k \
        -g 50 -keyint_min 50 -sc_threshold 0 -x264-params threads=1 \
        -c:a aac -b:a 32k -ac 1 \
        -flags +bitexact -fflags +bitexact "$@"
}

# encode_clear DIR [extra dash muxer options]: the test source as DASH, 2 s
# segments.
encode_clear() {
    dir=$1
    shift
    mkdir -p "$dir"
    encode_test_source \
        -f dash -seg_duration 2 -use_template 1 -use_timeline 0 \
        -init_seg_name 'init-$RepresentationID$.mp4' \
        -media_seg_name 'seg-$RepresentationID$-$Number$.m4s' \
        "$@" "$dir/manifest.mpd"
}

# encrypt_stream NAME CLEAR_DIR "INIT_OPTIONS" MEDIA_OPTIONS...
encrypt_stream() {
    name=$1
    clear=$2
    init_options=$3
    shift 3
    out=$streams/$name
    rm -rf "$out"
    mkdir -p "$out"
    for init in "$clear"/init-*.mp4; do
        rep=${init##*/init-}
        rep=${rep%.mp4}
        # shellcheck disable=SC2086 # option lists are deliberately split
        "$piffcrypt" init --kid "$KID" $init_options "$init" "$out/init-$rep.mp4"
        for segment in "$clear"/seg-"$rep"-*.m4s; do
            "$piffcrypt" media --key "$KEY" --kid "$KID" "$@" "$init" "$segment" "$out/${segment##*/}"
        done
    done
    python3 "$fixtures/mpd_fixtures.py" protect --kid "$KID" "$clear/manifest.mpd" "$out/manifest.mpd"
}

encode_clear "$work/single"
encode_clear "$work/multi" -frag_type duration -frag_duration 0.5

rm -rf "$streams/clear"
mkdir -p "$streams/clear"
cp "$work/single"/* "$streams/clear/"

encrypt_stream cenc-piff          "$work/single" ""                --piff beside
encrypt_stream piff-only          "$work/single" ""                --piff only
encrypt_stream piff-only-aux      "$work/single" ""                --piff only --aux-in-piff
# tenc says 8-byte IVs; the PIFF override in every traf says 16 (and is right).
encrypt_stream piff-override-iv16 "$work/single" "--iv-size 8"     --piff only --piff-override --iv-size 16
encrypt_stream multi-moof         "$work/multi"  ""                --piff beside --tfxd
encrypt_stream piff-init          "$work/single" "--piff-init"     --piff only

# Smooth Streaming presentations (MS-SSTR): one clear encode, cut by ffmpeg's
# smoothstreaming muxer into QualityLevels(..)/Fragments(..) files (moof with
# tfxd and tfrf, no init segment); the clear init the encryptor reads track
# facts from is the same encode remuxed per stream, so parameter sets match.
encode_smooth_source() {
    encode_test_source "$1"
}

# smooth_piff OUT: every fragment of smooth-vod PIFF-only encrypted (tfxd
# kept), the manifest given a PlayReady ProtectionHeader for the KID.
smooth_piff() {
    out=$1
    rm -rf "$out"
    cp -r "$streams/smooth-vod" "$out"
    for q in "$out"/QualityLevels*; do
        case $(ls "$q") in *video=*) init=$work/smooth-init-video.mp4 ;; *) init=$work/smooth-init-audio.mp4 ;; esac
        for fragment in "$q"/Fragments*; do
            "$piffcrypt" media --key "$KEY" --kid "$KID" --piff only "$init" "$fragment" "$fragment.enc"
            mv "$fragment.enc" "$fragment"
        done
    done
    python3 "$fixtures/mss_fixtures.py" protect "$out" --kid "$KID"
}

encode_smooth_source "$work/smooth-source.mp4"
for kind in video audio; do
    map=0:v
    [ "$kind" = audio ] && map=0:a
    ffmpeg -nostdin -hide_banner -loglevel error -i "$work/smooth-source.mp4" -map "$map" -c copy \
        -flags +bitexact -fflags +bitexact -f mp4 -movflags +frag_keyframe+empty_moov+default_base_moof \
        "$work/smooth-$kind.mp4"
    python3 "$fixtures/mss_fixtures.py" init "$work/smooth-$kind.mp4" "$work/smooth-init-$kind.mp4"
done
rm -rf "$streams/smooth-vod"
ffmpeg -nostdin -hide_banner -loglevel error -i "$work/smooth-source.mp4" -map 0 -c copy \
    -flags +bitexact -fflags +bitexact -f smoothstreaming -min_frag_duration 2000000 "$streams/smooth-vod"
python3 "$fixtures/mss_fixtures.py" tidy "$streams/smooth-vod"
smooth_piff "$streams/smooth-vod-piff"
smooth_piff "$streams/smooth-live-piff"
python3 "$fixtures/mss_fixtures.py" live "$streams/smooth-live-piff" --window 2

# On-demand profile (SegmentBase + sidx, one file per representation): each
# made from a live stream above, fragments and encryption byte-identical.
for name in clear cenc-piff piff-only; do
    rm -rf "$streams/ondemand-$name"
    python3 "$fixtures/ondemand_fixtures.py" make "$streams/$name" "$streams/ondemand-$name"
done

rm -rf "$streams/mpd-variants"
python3 "$fixtures/mpd_fixtures.py" variants "$streams" "$streams/mpd-variants"

echo "make-fixtures: wrote $(du -sk "$streams" | cut -f1) KiB under tests/data/streams"
