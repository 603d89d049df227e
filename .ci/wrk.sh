# Sourced by .ci/test: make Debian's wrk (the HTTP load generator of bench/perf and its smoke test) available,
# installing the package when missing, the way chromium.sh installs Chromium.

wrk_install() {
  command -v wrk >/dev/null 2>&1 && return 0
  echo "== installing wrk (Debian package)"
  if [ "$(id -u)" != 0 ]; then
    echo "wrk is missing and installing it needs root: apt-get install wrk" >&2
    return 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  command -v wrk >/dev/null 2>&1 || { echo "wrk could not be installed" >&2; return 1; }
}
