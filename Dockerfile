# comet with all its extras, plus the native tools it drives: HotSpot 7, Sniper 8.1 (no Pin:
# XED and the DynamoRIO frontend) and McPAT 1.3, built from their public repositories by
# scripts/build_native.sh (the same script builds them on a plain Debian machine).
#
#   docker build -t comet .
#   docker run --rm comet doctor
#   docker run --rm -v "$PWD/runs:/work/runs" -w /work comet run /opt/comet/examples/3d.toml
#
# Debian 12 (bookworm): its python3 is 3.11, the interpreter Sniper embeds and comet runs on.
FROM debian:bookworm

ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    QT_QPA_PLATFORM=offscreen \
    MPLBACKEND=Agg

# Python, and the system libraries PyQt6 needs to run offscreen (the list of .ci/run).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates git python3 python3-venv python3-pip \
        libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libfreetype6 \
        fonts-dejavu-core libdbus-1-3 libglib2.0-0 libxcb-cursor0 libxcb-icccm4 \
        libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 \
        libxcb-image0 \
    && rm -rf /var/lib/apt/lists/*

# The native tools first (their layer is rebuilt only when the recipe or its patches change).
# The script installs the Debian packages it needs, clones the pinned commits and builds with
# the system python3 (no virtualenv on PATH yet: Sniper embeds what python3-config names).
COPY scripts/build_native.sh /opt/comet/scripts/build_native.sh
COPY scripts/patches /opt/comet/scripts/patches
RUN /opt/comet/scripts/build_native.sh --prefix /opt/comet-native \
    && rm -rf /var/lib/apt/lists/*

ENV COMET_HOTSPOT=/opt/comet-native/hotspot/hotspot \
    SNIPER_ROOT=/opt/comet-native/sniper \
    COMET_MCPAT=/opt/comet-native/mcpat/mcpat

# comet itself, with all its extras, in a virtual environment (bookworm's pip refuses to
# install into the system Python, PEP 668).
COPY . /opt/comet
WORKDIR /opt/comet
RUN python3 -m venv /opt/comet-venv
ENV PATH=/opt/comet-venv/bin:$PATH
RUN pip install --no-cache-dir --upgrade pip \
    && pip install --no-cache-dir ".[gui,dask,plot]" \
    && comet doctor

WORKDIR /work
ENTRYPOINT ["comet"]
CMD ["--help"]
