#!/usr/bin/env bash
# Makes the corpus of real media segments that the unit tests of the segment inspectors read
# (test/unit/inspect.test.ts), in test/fixtures/segments/. The files are committed; run this again
# only to change the corpus (then commit what it wrote). Needs ffmpeg with libx264 (libx265 for the
# HEVC segment: skipped, with a note, when this ffmpeg lacks it) and nginx with the RTMP module
# (skipped likewise when missing).
#
# Every segment is 160x90 at 25 fps (or 48 kHz mono AAC), about 1 s, a few KB:
#   h264-aac.ts                  H.264 + AAC, from ffmpeg's hls muxer as the agent runs it (second segment)
#   hevc-aac.ts                  HEVC + AAC, likewise (libx265, B-frames, closed GOPs: an open GOP's
#                                segment starts on a CRA whose leading pictures need the previous one)
#   aac.ts                       audio only (AAC), likewise
#   fmp4-h264-aac-init.mp4/.m4s  fMP4 (CMAF) init and second segment, H.264 + AAC in one fragment
#   fmp4-aac-init.mp4/.m4s       audio-only fMP4 init and second segment
#   mid-gop.ts                   H.264 + AAC cut at 1 s inside a 10 s GOP by the segment muxer (an
#                                encoder whose keyframes do not follow the segments): it starts with a
#                                non-key frame
#   nginx-rtmp.ts                a fragment of nginx-rtmp's own HLS writer (the origin's segmenter in
#                                copy mode), published over RTMP with 1 s GOPs (second fragment)
#
# Safe to run again: it writes to a temporary directory, stops the nginx it started, and replaces
# the files above; the encoders run single-threaded with bitexact flags so that the same ffmpeg
# writes the same bytes. RTMP_PORT chooses the loopback port nginx listens on (default 19935).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 0
fi
OUT=test/fixtures/segments
PORT=${RTMP_PORT:-19935}
RTMP_MODULE=/usr/lib/nginx/modules/ngx_rtmp_module.so
say() { echo "make-segment-corpus: $*"; }

command -v ffmpeg >/dev/null || { say "ffmpeg is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/dvr-corpus-XXXXXX)
NGINX_PID=
cleanup() {
  if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$OUT"

FF=(ffmpeg -hide_banner -loglevel error -nostdin -y)
# 3 s of test pattern and tone; -t before each -i so both inputs end together.
SRC=(-t 3 -f lavfi -i "testsrc2=size=160x90:rate=25" -t 3 -f lavfi -i "sine=frequency=440:sample_rate=48000")
EXACT=(-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -threads 1)
H264=(-c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p -b:v 60k -g 25 -keyint_min 25 -sc_threshold 0
  -x264-params threads=1)
AAC=(-c:a aac -b:a 24k -ac 1 -ar 48000)
# As the agent's encoder writes them (agent/encoder/args.ts): hls muxer, 1 s segments.
HLS=(-f hls -hls_time 1 -hls_list_size 0 -hls_flags independent_segments)

# hls <dir> <ext> <args...>: segments <dir>/seg-<n>.<ext> (and <dir>/init.mp4 for fMP4).
hls() {
  local dir=$1 ext=$2
  shift 2
  mkdir -p "$dir"
  "${FF[@]}" "${SRC[@]}" "$@" "${EXACT[@]}" "${HLS[@]}" -hls_segment_filename "$dir/seg-%d.$ext" "$dir/index.m3u8"
}

hls "$WORK/h264" ts -map 0:v -map 1:a "${H264[@]}" "${AAC[@]}"
cp "$WORK/h264/seg-1.ts" "$OUT/h264-aac.ts"

# grep -q would close the pipe early, and pipefail would count ffmpeg's SIGPIPE as a failure.
if ffmpeg -hide_banner -encoders 2>/dev/null | grep libx265 >/dev/null; then
  hls "$WORK/hevc" ts -map 0:v -map 1:a -c:v libx265 -preset veryfast -pix_fmt yuv420p -b:v 60k \
    -x265-params "log-level=error:pools=none:frame-threads=1:keyint=25:min-keyint=25:scenecut=0:open-gop=0" "${AAC[@]}"
  cp "$WORK/hevc/seg-1.ts" "$OUT/hevc-aac.ts"
else
  say "this ffmpeg has no libx265: hevc-aac.ts not made (its tests are skipped)"
  rm -f "$OUT/hevc-aac.ts"
fi

hls "$WORK/aac" ts -map 1:a "${AAC[@]}"
cp "$WORK/aac/seg-1.ts" "$OUT/aac.ts"

hls "$WORK/fmp4" m4s -map 0:v -map 1:a "${H264[@]}" "${AAC[@]}" -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4
cp "$WORK/fmp4/init.mp4" "$OUT/fmp4-h264-aac-init.mp4"
cp "$WORK/fmp4/seg-1.m4s" "$OUT/fmp4-h264-aac.m4s"

hls "$WORK/fmp4a" m4s -map 1:a "${AAC[@]}" -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4
cp "$WORK/fmp4a/init.mp4" "$OUT/fmp4-aac-init.mp4"
cp "$WORK/fmp4a/seg-1.m4s" "$OUT/fmp4-aac.m4s"

# One 10 s GOP split every second regardless of keyframes: the second piece starts mid-GOP.
mkdir -p "$WORK/midgop"
"${FF[@]}" "${SRC[@]}" -map 0:v -map 1:a -c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p -b:v 60k \
  -g 250 -keyint_min 250 -sc_threshold 0 -x264-params threads=1 "${AAC[@]}" "${EXACT[@]}" \
  -f segment -segment_time 1 -break_non_keyframes 1 -segment_format mpegts "$WORK/midgop/seg-%d.ts"
cp "$WORK/midgop/seg-1.ts" "$OUT/mid-gop.ts"

# nginx-rtmp's HLS writer, configured as the origin's segmenter is (nginx/render.ts), publishing
# to it as OBS does (FLV over RTMP, 1 s GOPs). A minimal config, not the origin's: no publish hooks.
if command -v nginx >/dev/null && [ -e "$RTMP_MODULE" ]; then
  mkdir -p "$WORK/nginx/logs" "$WORK/nginx/hls"
  # A root master's workers run as nobody, and they write the fragments.
  [ "$(id -u)" = 0 ] && chown nobody "$WORK/nginx/hls"
  chmod 755 "$WORK"
  cat > "$WORK/nginx/nginx.conf" <<EOF
load_module $RTMP_MODULE;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log error;
events { worker_connections 64; }
rtmp { server { listen 127.0.0.1:$PORT; application live { live on;
  hls on; hls_path $WORK/nginx/hls; hls_nested on; hls_fragment_naming sequential; hls_continuous on;
  hls_fragment 1000ms; hls_playlist_length 30s; } } }
EOF
  nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
  NGINX_PID=$!
  published=0
  for _ in $(seq 1 50); do
    # Refused until nginx listens; then the publish runs to the end of the 3 s input.
    if "${FF[@]}" -re "${SRC[@]}" -map 0:v -map 1:a "${H264[@]}" "${AAC[@]}" -f flv "rtmp://127.0.0.1:$PORT/live/corpus" 2>/dev/null; then
      published=1
      break
    fi
    kill -0 "$NGINX_PID" 2>/dev/null || { say "nginx exited: $(cat "$WORK/nginx/logs/error.log")" >&2; exit 1; }
    sleep 0.2
  done
  [ "$published" = 1 ] || { say "could not publish to nginx-rtmp on 127.0.0.1:$PORT (RTMP_PORT chooses another)" >&2; exit 1; }
  # nginx-rtmp closes the last fragment when the publisher leaves; the second one is whole.
  for _ in $(seq 1 50); do [ -s "$WORK/nginx/hls/corpus/1.ts" ] && [ -e "$WORK/nginx/hls/corpus/2.ts" ] && break; sleep 0.1; done
  cp "$WORK/nginx/hls/corpus/1.ts" "$OUT/nginx-rtmp.ts"
else
  say "nginx with the RTMP module is missing: nginx-rtmp.ts not made (its tests are skipped)"
  rm -f "$OUT/nginx-rtmp.ts"
fi

say "wrote $(ls "$OUT" | wc -l) files, $(du -sk "$OUT" | cut -f1) KB, in $OUT"
