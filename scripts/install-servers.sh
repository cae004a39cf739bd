#!/usr/bin/env bash
# Installs the real servers that tests/scaleout starts as plain processes:
# Redis + PostgreSQL + Dovecot IMAP (Debian packages), MinIO (built from source with Go) and
# OpenSearch (integ-test zip + analysis-common/lang-painless modules from
# Maven Central).  Everything downloaded or built is cached outside the
# checkout under ~/.cache/kundenakte/ (override: KUNDENAKTE_CACHE), so a rerun
# with a warm cache only checks a few files and takes well under a second.
#
# Idempotent; meant to be run as root (CI).  tests/servers.py reads the pinned
# versions below from this file, so change them here only.
set -euo pipefail

# MinIO: the Go module proxy serves minio only as pseudo-versions; this is the
# last commit of the community server (master, 2026-02-12), object lock included.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
# Newest OpenSearch 2.x (OpenSearch 3 needs JDK 21, we have 17).
OPENSEARCH_VERSION=2.19.6
TEST_USER=kundenakte-test

CACHE="${KUNDENAKTE_CACHE:-$HOME/.cache/kundenakte}"
MAVEN_CENTRAL="${MAVEN_CENTRAL:-https://repo1.maven.org/maven2}"

log() { echo "[install-servers] $*"; }
die() { echo "[install-servers] ERROR: $*" >&2; exit 1; }
SCRIPT_START=$(date +%s%N)

mkdir -p "$CACHE"

# ---------------------------------------------------------------- apt packages
pg_initdb() { ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n1; }

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -n "$(pg_initdb)" ] || missing+=(postgresql)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
[ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)  # IMAP tests of `dms mail-poll`
# The web client's browser tests (tests/web/) drive Debian's Chromium through Playwright
# (`playwright install` is not used: it downloads its own browser); fonts for German text.
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
[ -d /usr/share/fonts/truetype/liberation ] || missing+=(fonts-liberation)

if [ ${#missing[@]} -eq 0 ]; then
    log "apt packages present (redis-server: $(command -v redis-server), initdb: $(pg_initdb), dovecot: /usr/sbin/dovecot, chromium: /usr/bin/chromium)"
else
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]} and not root: apt-get install -y ${missing[*]}"
    log "apt-get install ${missing[*]}"
    # We start our own instances; keep the packages' system services from
    # being started by the maintainer scripts (policy-rc.d exit 101 = deny).
    created_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
        log "apt-get install failed, running apt-get update and retrying"
        apt-get update
        apt-get install -y --no-install-recommends "${missing[@]}"
    fi
    if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
    trap - EXIT
    command -v redis-server >/dev/null || die "redis-server still missing after apt-get"
    [ -n "$(pg_initdb)" ] || die "initdb still missing after apt-get"
    [ -x /usr/sbin/dovecot ] || die "dovecot still missing after apt-get"
    [ -x /usr/bin/chromium ] || die "chromium still missing after apt-get"
fi
# Stop the Debian services if something started them anyway (not needed, we
# run our own instances on free ports); harmless when they are not running.
if pgrep -x redis-server -u redis >/dev/null 2>&1 || pgrep -u postgres -x postgres >/dev/null 2>&1 \
        || [ -s /run/dovecot/master.pid ]; then  # the system dovecot (ours use their own base_dir)
    log "stopping the system redis-server/postgresql/dovecot services (not used)"
    service redis-server stop >/dev/null 2>&1 || true
    service postgresql stop >/dev/null 2>&1 || true
    service dovecot stop >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------------- test user
# OpenSearch and PostgreSQL's initdb refuse to run as root.
if [ "$(id -u)" = 0 ]; then
    if getent passwd "$TEST_USER" >/dev/null; then
        log "user $TEST_USER exists"
    else
        log "creating system user $TEST_USER"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$TEST_USER"
    fi
fi

# ---------------------------------------------------------------- MinIO
MINIO_DIR="$CACHE/minio/$MINIO_VERSION"
if [ -x "$MINIO_DIR/minio" ]; then
    log "MinIO $MINIO_VERSION cached at $MINIO_DIR/minio"
else
    command -v go >/dev/null || die "go is needed to build MinIO"
    log "building MinIO $MINIO_VERSION with $(go version | cut -d' ' -f3) (first time: several minutes)"
    t0=$(date +%s)
    mkdir -p "$MINIO_DIR"
    (
        export GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/pkg/mod" GOCACHE="$CACHE/go-build" \
               GOBIN="$MINIO_DIR.tmp" CGO_ENABLED=0 GOFLAGS="-buildvcs=false -modcacherw"
        rm -rf "$GOBIN"
        cd "$CACHE"  # outside any module
        go install "github.com/minio/minio@$MINIO_VERSION"
    )
    mv "$MINIO_DIR.tmp/minio" "$MINIO_DIR/minio"
    rmdir "$MINIO_DIR.tmp"
    log "MinIO built in $(( $(date +%s) - t0 ))s: $MINIO_DIR/minio"
fi
"$MINIO_DIR/minio" --version >/dev/null || die "$MINIO_DIR/minio does not run"

# ---------------------------------------------------------------- OpenSearch
OS_HOME="$CACHE/opensearch/$OPENSEARCH_VERSION"
OS_MARKER="$OS_HOME/.kundenakte-complete"
DL="$CACHE/downloads"

# fetch GROUP_PATH ARTIFACT VERSION EXT -> prints local path; verifies .sha1
fetch() {
    local gpath=$1 art=$2 ver=$3 ext=$4
    local name="$art-$ver.$ext" url="$MAVEN_CENTRAL/$gpath/$art/$ver/$art-$ver.$ext"
    local dest="$DL/$name"
    if [ ! -s "$dest" ]; then
        mkdir -p "$DL"
        echo "[install-servers]   download $url" >&2
        curl -fsSL --retry 3 -o "$dest.part" "$url" || die "download failed: $url"
        local want
        want=$(curl -fsSL --retry 3 "$url.sha1" | cut -c1-40) || die "download failed: $url.sha1"
        echo "$want  $dest.part" | sha1sum -c --quiet - >&2 || die "sha1 mismatch for $url"
        mv "$dest.part" "$dest"
    fi
    echo "$dest"
}

# module_dir NAME CLASSNAME EXTENDED DESCRIPTION
write_descriptor() {
    local dir=$1 name=$2 classname=$3 extended=$4 description=$5
    cat > "$dir/plugin-descriptor.properties" <<EOF
description=$description
version=$OPENSEARCH_VERSION
name=$name
classname=$classname
java.version=11
opensearch.version=$OPENSEARCH_VERSION
custom.foldername=
extended.plugins=$extended
has.native.controller=false
EOF
}

# assert_class JAR CLASSNAME
assert_class() {
    unzip -Z1 "$1" "${2//.//}.class" >/dev/null 2>&1 || die "$2 not found in $1 (plugin class renamed in this OpenSearch version?)"
}

if [ -f "$OS_MARKER" ]; then
    log "OpenSearch $OPENSEARCH_VERSION cached at $OS_HOME"
else
    command -v java >/dev/null || die "java (JDK 17) is needed for OpenSearch"
    log "installing OpenSearch $OPENSEARCH_VERSION into $OS_HOME"
    t0=$(date +%s)
    G=org/opensearch
    zip=$(fetch "$G/distribution/integ-test-zip" opensearch "$OPENSEARCH_VERSION" zip)
    stage="$CACHE/opensearch/.stage-$OPENSEARCH_VERSION"
    rm -rf "$stage" "$OS_HOME"
    mkdir -p "$stage"
    unzip -q "$zip" -d "$stage"
    mv "$stage/opensearch-$OPENSEARCH_VERSION" "$OS_HOME"
    rm -rf "$stage"

    # lang-painless (analysis-common extends it): jar + its runtime deps from the pom
    pl="$OS_HOME/modules/lang-painless"
    mkdir -p "$pl"
    pjar=$(fetch "$G/plugin" lang-painless "$OPENSEARCH_VERSION" jar)
    ppom=$(fetch "$G/plugin" lang-painless "$OPENSEARCH_VERSION" pom)
    cp "$pjar" "$pl/"
    # compile/runtime dependencies listed in the pom: "groupId artifactId version"
    deps=$(python3 - "$ppom" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = {"m": "http://maven.apache.org/POM/4.0.0"}
root = ET.parse(sys.argv[1]).getroot()
for d in root.findall("m:dependencies/m:dependency", ns):
    scope = d.findtext("m:scope", "compile", ns)
    if scope in ("compile", "runtime") and d.findtext("m:optional", "false", ns) != "true":
        print(d.findtext("m:groupId", None, ns), d.findtext("m:artifactId", None, ns), d.findtext("m:version", None, ns))
PY
)
    [ -n "$deps" ] || die "no dependencies parsed from $ppom"
    while read -r g a v; do
        cp "$(fetch "${g//.//}" "$a" "$v" jar)" "$pl/"
    done <<< "$deps"
    assert_class "$pjar" org.opensearch.painless.PainlessPlugin
    write_descriptor "$pl" lang-painless org.opensearch.painless.PainlessPlugin "" \
        "An easy, safe and fast scripting language for OpenSearch"
    # from modules/lang-painless/src/main/plugin-metadata/plugin-security.policy
    cat > "$pl/plugin-security.policy" <<'EOF'
grant {
  // needed to generate runtime classes
  permission java.lang.RuntimePermission "createClassLoader";

  // needed to find the classloader to load whitelisted classes from
  permission java.lang.RuntimePermission "getClassLoader";
};
EOF

    # analysis-common (german analyzer, stemmers, ngram, asciifolding, ...):
    # no runtime dependencies and no security policy of its own.
    ac="$OS_HOME/modules/analysis-common"
    mkdir -p "$ac"
    ajar=$(fetch "$G/plugin" analysis-common "$OPENSEARCH_VERSION" jar)
    cp "$ajar" "$ac/"
    assert_class "$ajar" org.opensearch.analysis.common.CommonAnalysisPlugin
    write_descriptor "$ac" analysis-common org.opensearch.analysis.common.CommonAnalysisPlugin lang-painless \
        'Adds "built in" analyzers to OpenSearch.'

    mkdir -p "$OS_HOME/plugins"
    # Readable for the unprivileged test user; tests copy config/ per run
    # (OPENSEARCH_PATH_CONF) and keep data/logs in their own temp dir.
    chmod -R a+rX "$OS_HOME"
    touch "$OS_MARKER"
    log "OpenSearch installed in $(( $(date +%s) - t0 ))s (modules: $(ls "$OS_HOME/modules" | tr '\n' ' '))"
fi

log "done in $(( ($(date +%s%N) - SCRIPT_START) / 1000000 )) ms (cache: $CACHE)"
