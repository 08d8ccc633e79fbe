#!/bin/sh
# cdcform installer: downloads the release archive for this platform, verifies its sha256 and
# installs the binary (plus its man pages when asked). Usage:
#   curl -fsSL https://github.com/cdcform/cdcform/releases/latest/download/install.sh | sh
#   sh install.sh [--version 0.2.0] [--to ~/.local/bin] [--man-dir ~/.local/share/man/man1]
# Environment: CDCFORM_VERSION, CDCFORM_INSTALL_DIR, CDCFORM_DOWNLOAD_URL (a mirror of the
# release assets: <url>/v<version>/<archive>).
set -eu

REPO_URL="https://github.com/cdcform/cdcform"
version="${CDCFORM_VERSION:-latest}"
to="${CDCFORM_INSTALL_DIR:-$HOME/.local/bin}"
man_dir=""

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --version) [ $# -ge 2 ] || die "--version needs a value"; version="$2"; shift 2 ;;
        --to) [ $# -ge 2 ] || die "--to needs a directory"; to="$2"; shift 2 ;;
        --man-dir) [ $# -ge 2 ] || die "--man-dir needs a directory"; man_dir="$2"; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0" 2>/dev/null || true; exit 0 ;;
        *) die "unknown argument $1 (try --help)" ;;
    esac
done

# The release target built for this platform (Linux builds are static musl binaries).
detect_target() {
    os=$(uname -s)
    arch=$(uname -m)
    case "$arch" in
        x86_64|amd64) arch=x86_64 ;;
        aarch64|arm64) arch=aarch64 ;;
        *) die "no release build for CPU $arch; build from source: cargo install --locked cdcform" ;;
    esac
    case "$os" in
        Linux) echo "$arch-unknown-linux-musl" ;;
        Darwin) echo "$arch-apple-darwin" ;;
        *) die "no installer for $os; on Windows download the .zip from $REPO_URL/releases" ;;
    esac
}

fetch() { # fetch URL FILE
    if command -v curl >/dev/null 2>&1; then
        curl --proto '=https,file' --tlsv1.2 -fsSL "$1" -o "$2"
    elif command -v wget >/dev/null 2>&1; then
        wget -q "$1" -O "$2"
    else
        die "neither curl nor wget is installed"
    fi
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d' ' -f1
    else
        die "neither sha256sum nor shasum is installed: cannot verify the download"
    fi
}

resolve_latest() {
    command -v curl >/dev/null 2>&1 || die "--version is required without curl"
    url=$(curl -fsSLI -o /dev/null -w '%{url_effective}' "$REPO_URL/releases/latest") ||
        die "cannot find the latest release at $REPO_URL/releases/latest"
    echo "${url##*/v}"
}

target=$(detect_target)
if [ "$version" = latest ]; then
    version=$(resolve_latest)
fi
version="${version#v}"
name="cdcform-v$version-$target"
base="${CDCFORM_DOWNLOAD_URL:-$REPO_URL/releases/download}/v$version"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
say "downloading $name.tar.gz"
fetch "$base/$name.tar.gz" "$tmp/$name.tar.gz" || die "cannot download $base/$name.tar.gz"
fetch "$base/$name.tar.gz.sha256" "$tmp/$name.tar.gz.sha256" ||
    die "cannot download $base/$name.tar.gz.sha256"
want=$(cut -d' ' -f1 <"$tmp/$name.tar.gz.sha256")
got=$(sha256_of "$tmp/$name.tar.gz")
[ -n "$want" ] && [ "$want" = "$got" ] ||
    die "checksum mismatch for $name.tar.gz: expected $want, got $got; nothing installed"
tar -xzf "$tmp/$name.tar.gz" -C "$tmp"
[ -f "$tmp/$name/cdcform" ] || die "$name.tar.gz holds no $name/cdcform"
mkdir -p "$to"
cp "$tmp/$name/cdcform" "$to/cdcform.tmp"
chmod 755 "$to/cdcform.tmp"
mv "$to/cdcform.tmp" "$to/cdcform"
if [ -n "$man_dir" ]; then
    mkdir -p "$man_dir"
    cp "$tmp/$name"/man/*.1 "$man_dir"/
fi
say "installed cdcform $version ($target) to $to/cdcform"
case ":$PATH:" in
    *":$to:"*) ;;
    *) say "note: $to is not on PATH" ;;
esac
