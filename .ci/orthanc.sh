# Sourced by .ci/test: make sure Debian's Orthanc and its DICOMweb plugin are installed, for the imaging tests.
# Only the binaries are needed: the test fixture starts its own Orthanc as a foreground process on a free loopback
# port with its own configuration and storage; the system service is never started (a policy-rc.d that refuses
# service starts is put in place for the install when none exists, and removed afterwards).

ORTHANC_BIN=${FHIR_SERVER_TEST_ORTHANC:-/usr/sbin/Orthanc}
ORTHANC_DICOMWEB=${FHIR_SERVER_TEST_ORTHANC_DICOMWEB:-/usr/share/orthanc/plugins/libOrthancDicomWeb.so}

orthanc_installed() {
  [ -x "$ORTHANC_BIN" ] && [ -e "$ORTHANC_DICOMWEB" ]
}

orthanc_install() {
  orthanc_installed && return 0
  echo "== installing Orthanc and its DICOMweb plugin (Debian packages)"
  local policy=/usr/sbin/policy-rc.d placed=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && placed=1
  fi
  local status=0
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq orthanc orthanc-dicomweb >/dev/null; } \
    || status=$?
  [ -n "$placed" ] && rm -f "$policy"
  [ "$status" = 0 ] && orthanc_installed || { echo "Orthanc could not be installed" >&2; return 1; }
}
