#!/usr/bin/env bash
# A current, minimal ffmpeg/ffprobe for MoleTok, built from Debian's source tarball of
# FFmpeg (the one Debian 13 ships), into $MOLETOK_CACHE/ffmpeg/<version>-<flags hash>/bin.
#
#   bash scripts/ffmpeg.sh install   # builds once (a few minutes), then does nothing
#   bash scripts/ffmpeg.sh env       # prints `export FFMPEG_PATH=… FFPROBE_PATH=…` (installs first)
#   bash scripts/ffmpeg.sh flags     # the configure flags, one per line
#
# Why build: Debian 12 ships ffmpeg 5.1 and the npm-packaged static builds are from 2018; this
# machine reaches only Debian's and npm's registries. The build enables only what a
# short-video backend reads and writes (the lists below): every other demuxer, decoder and
# protocol of FFmpeg is left out, which also leaves them out of reach of a crafted upload.
# It downloads the tarball from the Debian mirror apt is configured with, checks its SHA-256,
# and links libx264 (H.264 encoder) and libdav1d (AV1 decoder) from Debian's packages, which
# it installs with apt-get when missing (as root).
set -euo pipefail
MOLETOK_CACHE="${MOLETOK_CACHE:-$HOME/.cache/moletok}"

VERSION=7.1.5
TARBALL="ffmpeg_${VERSION}.orig.tar.xz"
# Debian 13 "trixie", dists/trixie/main/source/Sources.xz, package ffmpeg 7:7.1.5-*.
SHA256=de668509caf9e35e3cd162473441fdb29538c6d96ed080292b3cf9e6fc5d558f
DEB_PACKAGES=(nasm libx264-dev libdav1d-dev)

# What uploads may be: MP4/MOV/3GP, Matroska/WebM, AVI, FLV, MPEG-TS, with the codecs phones
# and cameras produce. What MoleTok writes: H.264/AAC MP4 and a JPEG cover. The tests also
# make their own inputs from raw frames (rawvideo: never auto-detected in an upload) into
# Matroska and MPEG-4 Part 2.
DEMUXERS=mov,matroska,avi,flv,mpegts,rawvideo
DECODERS=h264,hevc,vp8,vp9,libdav1d,mpeg4,h263,flv,aac,aac_latm,mp3,mp3float,opus,vorbis,pcm_s16le,pcm_s16be,pcm_f32le,rawvideo
PARSERS=h264,hevc,vp8,vp9,av1,mpeg4video,h263,aac,aac_latm,mpegaudio,opus,vorbis
BSFS=aac_adtstoasc,extract_extradata,h264_mp4toannexb,hevc_mp4toannexb,vp9_superframe_split,av1_frame_split,null
ENCODERS=libx264,aac,mjpeg,mpeg4
MUXERS=mp4,mov,image2,null,matroska
FILTERS=scale,format,null,anull,aformat,aresample,trim,atrim,setsar,setpts,fps,hflip,vflip,transpose
PROTOCOLS=file,pipe

flags() {
	printf '%s\n' \
		--disable-everything --disable-autodetect --disable-doc --disable-debug --disable-ffplay \
		--disable-network --disable-avdevice --disable-postproc \
		--enable-gpl --enable-libx264 --enable-libdav1d --enable-swscale --enable-swresample \
		"--enable-demuxer=$DEMUXERS" "--enable-decoder=$DECODERS" "--enable-parser=$PARSERS" \
		"--enable-bsf=$BSFS" "--enable-encoder=$ENCODERS" "--enable-muxer=$MUXERS" \
		"--enable-filter=$FILTERS" "--enable-protocol=$PROTOCOLS"
}

FLAGS_HASH="$(flags | sha256sum | cut -c1-10)"
PREFIX="$MOLETOK_CACHE/ffmpeg/$VERSION-$FLAGS_HASH"

say() { echo "moletok: $*" >&2; }

# The Debian mirror apt uses here (never a host of our own choosing).
debian_mirror() {
	apt-get indextargets --format '$(REPO_URI)' 'Label: Debian' 2>/dev/null | sort -u | head -n1
}

install_packages() {
	local missing=()
	for pkg in "${DEB_PACKAGES[@]}"; do
		dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return
	if [ "$(id -u)" != 0 ]; then
		say "building ffmpeg needs the Debian packages ${missing[*]}: run  sudo apt-get install ${missing[*]}"
		exit 1
	fi
	say "installing ${missing[*]} (apt-get)"
	local log
	log="$(mktemp)"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
		apt-get update -q >"$log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1 ||
			{ tail -n 20 "$log" >&2; rm -f "$log"; exit 1; }
	fi
	rm -f "$log"
}

WORK=""
trap '[ -z "$WORK" ] || rm -rf "$WORK"' EXIT

build() {
	install_packages
	WORK="$(mktemp -d "${TMPDIR:-/tmp}/moletok-ffmpeg-build.XXXXXX")"
	local work="$WORK"
	local tarball="$MOLETOK_CACHE/ffmpeg/$TARBALL"
	mkdir -p "$MOLETOK_CACHE/ffmpeg"
	if [ ! -f "$tarball" ] || ! echo "$SHA256  $tarball" | sha256sum -c --status; then
		local mirror
		mirror="$(debian_mirror)"
		[ -n "$mirror" ] || { say "no Debian mirror in apt's configuration (apt-get indextargets)"; exit 1; }
		say "downloading FFmpeg $VERSION source from the Debian archive"
		curl -fsSL --retry 3 -o "$work/$TARBALL" "${mirror%/}/pool/main/f/ffmpeg/$TARBALL"
		echo "$SHA256  $work/$TARBALL" | sha256sum -c --status || { say "$TARBALL: SHA-256 mismatch, refusing to build it"; exit 1; }
		mv "$work/$TARBALL" "$tarball"
	fi
	tar -xJf "$tarball" -C "$work"
	local src="$work/ffmpeg-$VERSION"
	local jobs
	jobs="$(nproc)"
	say "building a minimal FFmpeg $VERSION into $PREFIX (about 3 to 6 minutes on 2 cores, once)"
	local started=$SECONDS
	(
		cd "$src"
		# shellcheck disable=SC2046
		./configure --prefix="$work/install" $(flags) >"$work/configure.log" 2>&1 ||
			{ tail -n 30 "$work/configure.log" ffbuild/config.log >&2; exit 1; }
		make -j"$jobs" ffmpeg ffprobe >"$work/make.log" 2>&1 || { tail -n 40 "$work/make.log" >&2; exit 1; }
		mkdir -p "$work/install/bin"
		install -m 0755 ffmpeg ffprobe "$work/install/bin/"
	)
	"$work/install/bin/ffmpeg" -hide_banner -version >/dev/null
	# Moved into place whole: a half-built directory is never taken for a build.
	rm -rf "$PREFIX"
	mv "$work/install" "$PREFIX"
	say "FFmpeg $VERSION built in $((SECONDS - started)) s"
}

installed() { [ -x "$PREFIX/bin/ffmpeg" ] && [ -x "$PREFIX/bin/ffprobe" ]; }

case "${1:-install}" in
	install)
		installed || build
		;;
	env)
		installed || build
		echo "export FFMPEG_PATH='$PREFIX/bin/ffmpeg' FFPROBE_PATH='$PREFIX/bin/ffprobe'"
		;;
	flags)
		flags
		;;
	*)
		echo "usage: $0 install|env|flags" >&2
		exit 2
		;;
esac
