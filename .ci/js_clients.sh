# Sourced by .ci/test: install the JavaScript FHIR clients the compatibility tests drive (tests/clients/js: their
# versions pinned by package-lock.json) into a writable cache with `npm ci`, again whenever the lock file changes;
# tests find them through FHIR_SERVER_TEST_JS_CLIENTS (a node_modules directory).

js_clients_install() {
  local source="tests/clients/js"
  local target="${XDG_CACHE_HOME:-$HOME/.cache}/fhir-server-ci/js-clients"
  if ! cmp -s "$source/package-lock.json" "$target/package-lock.json" || [ ! -d "$target/node_modules" ]; then
    echo "== installing the JavaScript FHIR clients (npm ci)"
    rm -rf "$target" && mkdir -p "$target"
    cp "$source/package.json" "$source/package-lock.json" "$target/"
    # fhirclient's crypto polyfill lists React Native packages as optional: Node needs none of them
    (cd "$target" && npm ci --silent --omit=optional --omit=peer --no-audit --no-fund)
  fi
  export FHIR_SERVER_TEST_JS_CLIENTS="$target/node_modules"
}
