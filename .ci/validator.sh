# Sourced by .ci/test: install the independent FHIR R4 validator of ../shared/tools/fhir-validator (Node 20,
# @medplum/core) where it may be written, the way its README says, and tell the tests where it is
# (FHIR_SERVER_TEST_VALIDATOR: the directory holding validate.mjs). ../shared is read-only in CI.

validator_install() {
  local source="${FHIR_VALIDATOR_SOURCE:-../shared/tools/fhir-validator}"
  local target="${FHIR_SERVER_TEST_VALIDATOR:-${XDG_CACHE_HOME:-$HOME/.cache}/fhir-server/fhir-validator}"
  if [ ! -f "$target/node_modules/.package-lock.json" ]; then
    echo "== installing the FHIR validator (npm ci)"
    command -v npm >/dev/null 2>&1 || { echo "the FHIR validator needs Node 20 and npm" >&2; return 1; }
    [ -d "$source" ] || { echo "no FHIR validator at $source (set FHIR_VALIDATOR_SOURCE)" >&2; return 1; }
    rm -rf "$target" && mkdir -p "$(dirname "$target")" && cp -r "$source" "$target"
    (cd "$target" && npm ci --silent) || { echo "npm ci of the FHIR validator failed" >&2; return 1; }
  fi
  export FHIR_SERVER_TEST_VALIDATOR="$target"
}
