# Sourced by .ci/test: make curl available (the README's "Your first request" walkthrough, run as written by
# tests/test_readme_first_request.py, is curl commands), installing Debian's package when missing.

curl_install() {
  command -v curl >/dev/null 2>&1 && return 0
  echo "== installing curl (Debian package)"
  if [ "$(id -u)" != 0 ]; then
    echo "curl is missing and installing it needs root: apt-get install curl" >&2
    return 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null
  command -v curl >/dev/null 2>&1 || { echo "curl could not be installed" >&2; return 1; }
}
