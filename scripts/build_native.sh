#!/usr/bin/env bash
# Build the native tools comet can drive: HotSpot 7, McPAT 1.3 (64-bit) and Sniper 8.1 without
# Pin and libtorch (XED + mbuild, DynamoRIO and Sniper's DynamoRIO frontend), with comet's small
# patches (scripts/patches/). The top-level Dockerfile runs exactly this script.
#
#   scripts/build_native.sh [--prefix DIR] [--only hotspot,mcpat,sniper] [--jobs N] [--no-apt]
#                           [--hotspot-src SRC] [--mcpat-src SRC] [--sniper-src SRC]
#                           [--xed-src SRC] [--mbuild-src SRC] [--dynamorio-src SRC]
#
# SRC is a git repository (URL, bare or working directory: it is cloned and the pinned commit
# checked out) or a plain source directory (copied as it is). Without it the public GitHub
# repository is cloned. Every option also reads an environment variable: COMET_NATIVE_PREFIX,
# COMET_NATIVE_ONLY, COMET_NATIVE_JOBS, COMET_NATIVE_NO_APT=1, HOTSPOT_SRC, MCPAT_SRC,
# SNIPER_SRC, XED_SRC, MBUILD_SRC, DYNAMORIO_SRC.
#
# Layout under the prefix (default /opt/comet-native):
#   hotspot/hotspot, hotspot/hotfloorplan     HotSpot 7.0 (default build: RK4 + multigrid)
#   mcpat/mcpat                               McPAT 1.3, 64-bit
#   sniper/                                   SNIPER_ROOT: run-sniper, record-trace, lib/sniper,
#                                             xed_kit/, dynamorio/build/, frontend/dr-frontend/build/,
#                                             mcpat/mcpat-1.0 -> ../../mcpat/mcpat (tools/mcpat.py)
#   src/                                      HotSpot and McPAT sources and objects
# Idempotent: a part whose outputs exist is skipped (remove them to rebuild).
set -euo pipefail

# Pinned sources (Sniper's own Makefile pins XED, mbuild and DynamoRIO).
HOTSPOT_URL=https://github.com/uvahotspot/HotSpot.git
HOTSPOT_REV=f18831e48cef5d62580585cca0d7fab6c71bc3cc      # HotSpot 7.0
MCPAT_URL=https://github.com/HewlettPackard/mcpat.git
MCPAT_REV=74d4759f3ba2dff8f5a69e07a68efdb46b42fb8c        # "ver 1.3"
SNIPER_URL=https://github.com/snipersim/snipersim.git
SNIPER_REV=900a80c4669179ccea2ccd798b954c32627c093c       # Sniper 8.1
XED_URL=https://github.com/intelxed/xed.git
XED_REV=b86dd5014463d954bc8898d2376b14852d26facd          # Sniper Makefile XED_GITID
MBUILD_URL=https://github.com/intelxed/mbuild.git
MBUILD_REV=f32bc9b31f9fc5a0be3dc88cd2086b70270295ab       # Sniper Makefile MBUILD_GITID
DYNAMORIO_URL=https://github.com/DynamoRIO/dynamorio.git
DYNAMORIO_REV=246ddb28e7848b2d09d2b9909f99a6da9b2ce35e    # Sniper Makefile DYNAMORIO_GITID
# Sniper compiles PIN_REV into its decoder and siftdump; without a Pin kit it cannot ask
# tools/pinversion.py: 98869 is the Pin 3.31 build Sniper 8.1's Makefile downloads.
PIN_REV=98869

PATCHES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/patches"
PREFIX=${COMET_NATIVE_PREFIX:-/opt/comet-native}
ONLY=${COMET_NATIVE_ONLY:-hotspot,mcpat,sniper}
JOBS=${COMET_NATIVE_JOBS:-$(nproc)}
NO_APT=${COMET_NATIVE_NO_APT:-0}
HOTSPOT_SRC=${HOTSPOT_SRC:-}
MCPAT_SRC=${MCPAT_SRC:-}
SNIPER_SRC=${SNIPER_SRC:-}
XED_SRC=${XED_SRC:-}
MBUILD_SRC=${MBUILD_SRC:-}
DYNAMORIO_SRC=${DYNAMORIO_SRC:-}

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --jobs|-j) JOBS=$2; shift 2 ;;
        --no-apt) NO_APT=1; shift ;;
        --hotspot-src) HOTSPOT_SRC=$2; shift 2 ;;
        --mcpat-src) MCPAT_SRC=$2; shift 2 ;;
        --sniper-src) SNIPER_SRC=$2; shift 2 ;;
        --xed-src) XED_SRC=$2; shift 2 ;;
        --mbuild-src) MBUILD_SRC=$2; shift 2 ;;
        --dynamorio-src) DYNAMORIO_SRC=$2; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "build_native.sh: unknown option $1" >&2; usage 2 ;;
    esac
done
case ",$ONLY," in *,hotspot,*|*,mcpat,*|*,sniper,*) ;; *)
    echo "build_native.sh: --only takes a comma list of hotspot, mcpat, sniper" >&2; exit 2 ;;
esac
wants() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
log() { printf '\n[build_native %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# --- Debian packages -------------------------------------------------------------------------
apt_packages() {
    local pkgs="build-essential git cmake perl python3 python3-dev zlib1g-dev libbz2-dev \
libsqlite3-dev libboost-dev"
    local missing=""
    for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    [ -z "$missing" ] && return 0
    if [ "$NO_APT" = 1 ]; then
        echo "build_native.sh: missing Debian packages:$missing (--no-apt given)" >&2; exit 1
    fi
    log "apt-get install$missing"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends $missing
}

# --- sources ---------------------------------------------------------------------------------
# checkout SRC URL REV DEST [sparse]: DEST holds REV of SRC (or of URL when SRC is empty).
# With "sparse", blobs the source repository lacks (a partial mirror) are left out of the
# checkout instead of failing it.
checkout() {
    local src=$1 url=$2 rev=$3 dest=$4 sparse=${5:-}
    if [ -e "$dest/.git" ] || [ -e "$dest/.comet-copied" ]; then return 0; fi
    local from=${src:-$url}
    if [ -n "$src" ] && [ -d "$src" ] && ! git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
        log "copy $src -> $dest (plain directory, taken as it is)"
        mkdir -p "$dest"; cp -a "$src/." "$dest/"; touch "$dest/.comet-copied"; return 0
    fi
    log "clone $from @ ${rev:0:10} -> $dest"
    rm -rf "$dest.tmp"
    git clone --quiet --no-checkout "$from" "$dest.tmp"
    if [ "$sparse" = sparse ]; then
        git -C "$dest.tmp" config core.sparseCheckout true
        {
            echo '/*'
            # ls-tree -l prints the size BAD for a blob the object store lacks
            git -C "$dest.tmp" ls-tree -r -l "$rev" \
                | awk -F'\t' '{ split($1, a, " "); if (a[4] == "BAD") print "!/" $2 }'
        } > "$dest.tmp/.git/info/sparse-checkout"
        local left; left=$(grep -c '^!' "$dest.tmp/.git/info/sparse-checkout" || true)
        [ "$left" = 0 ] || log "sparse checkout: leaving out $left blobs the source lacks"
    fi
    git -C "$dest.tmp" -c advice.detachedHead=false checkout --quiet "$rev"
    mv "$dest.tmp" "$dest"
}

# apply_patch DIR FILE: apply once (skipped when already applied).
apply_patch() {
    local dir=$1 patch=$2
    if git -C "$dir" apply --reverse --check "$patch" >/dev/null 2>&1; then return 0; fi
    log "patch $(basename "$patch") -> $dir"
    git -C "$dir" apply "$patch"
}

# --- HotSpot ---------------------------------------------------------------------------------
build_hotspot() {
    local bin=$PREFIX/hotspot/hotspot src=$PREFIX/src/hotspot
    if [ -x "$bin" ]; then log "HotSpot: $bin exists, skipped"; return 0; fi
    checkout "$HOTSPOT_SRC" "$HOTSPOT_URL" "$HOTSPOT_REV" "$src"
    # -all_transient_file: the transient's final node dump (as CoMeT's HotSpot), so that
    # comet's closed loop can chain HotSpot runs epoch by epoch ([thermal] backend = "hotspot")
    apply_patch "$src" "$PATCHES/hotspot-all-transient-file.patch"
    log "HotSpot: make"
    make -C "$src" -j"$JOBS" hotspot hotfloorplan
    mkdir -p "$PREFIX/hotspot"
    install -m 755 "$src/hotfloorplan" "$PREFIX/hotspot/hotfloorplan"
    install -m 755 "$src/hotspot" "$bin"
}

# --- McPAT -----------------------------------------------------------------------------------
build_mcpat() {
    local bin=$PREFIX/mcpat/mcpat src=$PREFIX/src/mcpat
    if [ -x "$bin" ]; then log "McPAT: $bin exists, skipped"; return 0; fi
    checkout "$MCPAT_SRC" "$MCPAT_URL" "$MCPAT_REV" "$src"
    apply_patch "$src" "$PATCHES/mcpat-64bit.patch"
    log "McPAT: make"
    make -C "$src" -j"$JOBS"
    mkdir -p "$PREFIX/mcpat"
    install -m 755 "$src/mcpat" "$bin"
}

# --- Sniper ----------------------------------------------------------------------------------
build_sniper() (  # a subshell: the PATH change stays inside
    local root=$PREFIX/sniper
    # Sniper embeds the Python that python3-config names, and its scripts run on python3: the
    # system one, not a virtualenv's or pyenv's.
    export PATH=/usr/bin:/bin:$PATH
    checkout "$SNIPER_SRC" "$SNIPER_URL" "$SNIPER_REV" "$root"
    apply_patch "$root" "$PATCHES/sniper-no-pin-no-torch.patch"
    apply_patch "$root" "$PATCHES/sniper-dram-bank-stats.patch"
    apply_patch "$root" "$PATCHES/sniper-mcpat13.patch"
    # the neural-network branch predictor needs libtorch: compiled out (the patch drops its use)
    rm -f "$root"/common/performance_model/branch_predictors/nn_branch_predictor.{h,cc}

    # XED (Sniper's decoder), installed as Sniper's Makefile does
    checkout "$MBUILD_SRC" "$MBUILD_URL" "$MBUILD_REV" "$root/mbuild"
    checkout "$XED_SRC" "$XED_URL" "$XED_REV" "$root/xed"
    if [ ! -e "$root/xed_kit/include/xed/xed-iclass-enum.h" ]; then
        log "Sniper: XED"
        (cd "$root/xed" && python3 ./mfile.py --jobs="$JOBS" --extra-flags=-fPIC --shared \
            --install-dir "$root/xed_kit" install)
    fi

    # DynamoRIO: release build, no tests/samples/docs/clients, no submodules
    checkout "$DYNAMORIO_SRC" "$DYNAMORIO_URL" "$DYNAMORIO_REV" "$root/dynamorio" sparse
    if [ ! -x "$root/dynamorio/build/bin64/drrun" ]; then
        log "Sniper: DynamoRIO"
        mkdir -p "$root/dynamorio/build"
        (cd "$root/dynamorio/build" && cmake -DCMAKE_BUILD_TYPE=Release -DDEBUG=OFF \
            -DBUILD_TESTS=OFF -DBUILD_SAMPLES=OFF -DBUILD_DOCS=OFF -DBUILD_CLIENTS=OFF .. \
            && make -j"$JOBS")
    fi

    # Sniper itself, piece by piece (its top-level make downloads SDE, Pin, libtorch, McPAT)
    local mk="make -j$JOBS PIN_REV=$PIN_REV"
    if [ ! -x "$root/lib/sniper" ]; then
        log "Sniper: common, sift, decoder_lib, standalone"
        $mk -C "$root" linux builddir
        $mk -C "$root/common"
        $mk -C "$root/sift" libsift.a siftdump
        $mk -C "$root/decoder_lib"
        $mk -C "$root/standalone"
    else
        log "Sniper: $root/lib/sniper exists, skipped (remove it to rebuild)"
    fi
    if [ ! -e "$root/frontend/dr-frontend/build/libdr-frontend.so" ]; then
        log "Sniper: DynamoRIO frontend"
        mkdir -p "$root/frontend/dr-frontend/build"
        # no CMAKE_BUILD_TYPE: DynamoRIO's exported targets carry only its own configuration
        # and configure_DynamoRIO_client() sets the client's flags to match
        (cd "$root/frontend/dr-frontend/build" \
            && cmake -DDynamoRIO_DIR="$root/dynamorio/build/cmake" .. && make -j"$JOBS")
    fi

    # config/sniper.py as Sniper's "configscripts" target writes it; run-sniper and
    # record-trace check that the Pin/SDE and libtorch directories exist: empty ones do.
    mkdir -p "$root/config" "$root/pin_kit" "$root/sde_kit" "$root/libtorch"
    {
        echo '# Written by comet scripts/build_native.sh (Sniper without Pin and libtorch).'
        echo 'target="intel64"'
        echo 'sde_home="sde_kit"'
        echo 'pin_home="pin_kit"'
        echo 'xed_home="xed_kit"'
        echo 'dynamorio_home="dynamorio/build"'
        echo 'torch_home="libtorch"'
        echo "git_revision=\"$(git -C "$root" rev-parse HEAD 2>/dev/null || echo "$SNIPER_REV")\""
    } > "$root/config/sniper.py"
    # Sniper's tools/mcpat.py runs ROOT/mcpat/mcpat-1.0: McPAT 1.3 when this script built it
    # (the patch above turns McPAT's power gating off, with which 1.3 spins for many minutes)
    if [ -x "$PREFIX/mcpat/mcpat" ]; then
        mkdir -p "$root/mcpat"
        ln -sfn ../../mcpat/mcpat "$root/mcpat/mcpat-1.0"
    fi
    (cd "$root" && python3 ./tools/makebuildscripts.py "$root" "$root/sde_kit" "$root/pin_kit" \
        "$root/dynamorio/build" gcc g++ intel64)
)

start=$(date +%s)
apt_packages
# (not "wants x && build_x": bash ignores set -e inside a function called from an && list)
if wants hotspot; then build_hotspot; fi
if wants mcpat; then build_mcpat; fi
if wants sniper; then build_sniper; fi
log "done in $(( $(date +%s) - start )) s. Point comet at the tools with:"
if wants hotspot; then echo "export COMET_HOTSPOT=$PREFIX/hotspot/hotspot"; fi
if wants mcpat; then echo "export COMET_MCPAT=$PREFIX/mcpat/mcpat"; fi
if wants sniper; then echo "export SNIPER_ROOT=$PREFIX/sniper"; fi
echo "Check with: comet doctor"
