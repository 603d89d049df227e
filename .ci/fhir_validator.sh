# Sourced by .ci/test: install the independent FHIR R4 validator of the shared tools (Node, @medplum/core) into a
# writable cache, since the shared tree is read-only in CI; tests find it through FHIR_SERVER_TEST_FHIR_VALIDATOR.
# FHIR_VALIDATOR_SOURCE overrides where the tool's sources are (default: the shared tools beside the checkout).

fhir_validator_install() {
  local source="${FHIR_VALIDATOR_SOURCE:-../shared/tools/fhir-validator}"
  local target="${XDG_CACHE_HOME:-$HOME/.cache}/fhir-server-ci/fhir-validator"
  if [ ! -f "$source/validate.mjs" ]; then
    echo "the FHIR validator is not at $source: set FHIR_VALIDATOR_SOURCE" >&2
    return 1
  fi
  if [ ! -d "$target/node_modules" ]; then
    echo "== installing the FHIR validator (npm ci)"
    mkdir -p "$(dirname "$target")" && rm -rf "$target" && cp -r "$source" "$target"
    (cd "$target" && npm ci --silent)
  fi
  export FHIR_SERVER_TEST_FHIR_VALIDATOR="$target/validate.mjs"
}
