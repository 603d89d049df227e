# Sourced by .ci/test: make Debian's Chromium (and its driver) available for the browser tests, installing the
# packages when missing, the way postgres.sh installs PostgreSQL. Playwright drives /usr/bin/chromium; it never
# downloads a browser of its own.

chromium_install() {
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    return 0
  fi
  echo "== installing Chromium (Debian packages)"
  if [ "$(id -u)" != 0 ]; then
    echo "chromium is missing and installing it needs root: apt-get install chromium chromium-driver" >&2
    return 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  [ -x /usr/bin/chromium ] || { echo "Chromium could not be installed" >&2; return 1; }
}
