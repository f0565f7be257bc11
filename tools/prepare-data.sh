#!/usr/bin/env bash
# Fetches the datasets of the DisMax paper and of OpenOOD v1.5 and lays them out under a data root the way
# dismax's loaders read them (docs/DATA.md, SPEC §4):
#   cifar10 -> ROOT/cifar10/cifar-10-batches-py/    --data-dir ROOT/cifar10, --ood cifar10:ROOT/cifar10
#   cifar100 -> ROOT/cifar100/cifar-100-python/     --ood cifar100:ROOT/cifar100
#   svhn -> ROOT/svhn/test_32x32.mat                --ood svhn:ROOT/svhn
#   imagenet_resize -> ROOT/Imagenet_resize/        --ood imagenet_resize:ROOT/Imagenet_resize
#   lsun_resize -> ROOT/LSUN_resize/                --ood lsun_resize:ROOT/LSUN_resize
#   imagenet-o -> ROOT/imagenet-o/                  --ood imagenet-o:ROOT/imagenet-o
#   openood-v1.5-lists -> ROOT/benchmark_imglist/   --benchmark openood-... --data-root ROOT (its images
#                                                   are not included: OpenOOD's images_classic/ etc.)
#
# What it guarantees:
# * Nothing is unpacked before the downloaded file matched its SHA-256 pin (and its size and MD5 where the
#   manifest knows them). A file without a pin is installed only with --sha256 NAME=HEX or --trust-unpinned.
# * Downloads go to ROOT/.downloads/FILE.part and resume from there after an interruption.
# * Each dataset is unpacked and laid out in ROOT/.staging/NAME.XXXX, moved into place with one rename, and
#   only then marked complete (ROOT/FOLDER/.complete holds the file's SHA-256). A folder without a matching
#   marker is never taken as prepared: it is reported and redone. A prepared one is left alone.
# * Every failure ends with one line on stderr naming the dataset, and the URL or file at fault.
#
# Test hook: DISMAX_PREPARE_MANIFEST=FILE replaces the built-in manifest (same format).
set -euo pipefail
shopt -s inherit_errexit

readonly PROG=prepare-data

usage() {
  cat <<EOF
usage: $0 [--root DIR] [--mirror DIR_OR_URL] [--sha256 NAME=HEX]... [--trust-unpinned]
          [--list] [--verify-only] NAME...
NAME: $(known_names_line), or all.
  --root DIR            data root (default: data)
  --mirror DIR_OR_URL   take FILE from DIR_OR_URL/FILE instead of the official URL: a local folder of
                        pre-downloaded files (copied), or a file://, http:// or https:// address
  --sha256 NAME=HEX     the expected SHA-256 of NAME's file (overrides the manifest; pins an unpinned one)
  --trust-unpinned      install files that have no SHA-256 pin, printing their hash for you to pin
  --list                print the manifest (name, folder, file, size, SHA-256, URL) and exit
  --verify-only         download nothing: report whether each NAME is prepared (and, with a local --mirror,
                        whether the mirror's file matches its pin); exit 1 if any is not
  --help                this text
EOF
}

# One row per item: name, folder under the root, layout, file, size in bytes, SHA-256, MD5, URL ("-": not
# known). Layouts: "file" (the file itself goes into the folder), "contains:DIR" (the archive's top folder
# DIR goes into the folder), "is:DIR" (the archive's top folder DIR becomes the folder).
# Where each hash was published:
# * cifar10 SHA-256: torchvision, torchvision/prototype/datasets/_builtin/cifar.py (Cifar10 HttpResource),
#   and TensorFlow, tensorflow/python/keras/datasets/cifar10.py (file_hash); size 170498071 and MD5 from
#   torchvision/datasets/cifar.py (tgz_md5).
# * cifar100 SHA-256: the same torchvision prototype file (Cifar100) and keras' cifar100.py; MD5 from
#   torchvision/datasets/cifar.py.
# * svhn SHA-256 and size: tensorflow/datasets, tensorflow_datasets/url_checksums/svhn_cropped.txt, and
#   torchvision/prototype/datasets/_builtin/svhn.py (_CHECKSUMS["test"]); MD5 from torchvision/datasets/svhn.py.
# * imagenet_resize, lsun_resize: no SHA-256 published anywhere we could find. MD5 from pytorch-ood,
#   src/pytorch_ood/dataset/img/odin.py (TinyImageNetResize, LSUNResize tgz_md5).
# * imagenet-o: no SHA-256 found. MD5 from torch-uncertainty, torch_uncertainty/datasets/imagenet/imagenet_o.py
#   and pytorch-ood (ImageNetO tgz_md5).
# * openood-v1.5-lists: a Google Drive file (id from OpenOOD's scripts/download/download.py,
#   'benchmark_imglist'); no hash published, and OpenOOD has replaced the file before.
builtin_manifest() {
  cat <<'EOF'
#name              folder            layout                       file                    bytes     sha256                                                           md5                              url
cifar10            cifar10           contains:cifar-10-batches-py cifar-10-python.tar.gz  170498071 6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce c58f30108f718f92721af3b95e74349a https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz
cifar100           cifar100          contains:cifar-100-python    cifar-100-python.tar.gz 169001437 85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7 eb9058c3a382ffc7106e4002c42a8d85 https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz
svhn               svhn              file                         test_32x32.mat          64275384  cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b eb5a983be6a315427106f1b164d9cef3 http://ufldl.stanford.edu/housenumbers/test_32x32.mat
imagenet_resize    Imagenet_resize   is:Imagenet_resize           Imagenet_resize.tar.gz  -         UNPINNED                                                         0f9ff11d45babf2eff5fe12281d1ac31 https://www.dropbox.com/s/kp3my3412u5k9rl/Imagenet_resize.tar.gz?dl=1
lsun_resize        LSUN_resize       is:LSUN_resize               LSUN_resize.tar.gz      -         UNPINNED                                                         278b7b31c8cb7e804a1465a8ce03a2dc https://www.dropbox.com/s/moqh2wh8696c3yl/LSUN_resize.tar.gz?dl=1
imagenet-o         imagenet-o        is:imagenet-o                imagenet-o.tar          -         UNPINNED                                                         86bd7a50c1c4074fb18fc5f219d6d50b https://people.eecs.berkeley.edu/~hendrycks/imagenet-o.tar
openood-v1.5-lists benchmark_imglist is:benchmark_imglist         benchmark_imglist.zip   -         UNPINNED                                                         -                                https://drive.usercontent.google.com/download?id=1lI1j0_fDDvjIt9JlWAw09X8ks-yrR_H1&export=download&confirm=t
EOF
}

die() {
  echo "$PROG: error: $*" >&2
  exit 1
}
usage_error() {
  echo "$PROG: error: $* (see --help)" >&2
  exit 2
}
say() { echo "$PROG: $*"; }
warn() { echo "$PROG: warning: $*" >&2; }

# ---------------------------------------------------------------------------------------------- manifest

NAMES=()
declare -A FOLDER LAYOUT FILE BYTES SHA256 MD5 URL

is_hex() { [[ $1 =~ ^[0-9a-f]+$ && ${#1} -eq $2 ]]; }
# A folder or file name that stays where it is put: no '/', not '.' or '..'.
is_plain_name() { [[ $1 =~ ^[A-Za-z0-9_][A-Za-z0-9._-]*$ ]]; }

load_manifest() {
  local source=${DISMAX_PREPARE_MANIFEST:-} text line number=0
  if [ -n "$source" ]; then
    [ -f "$source" ] || die "DISMAX_PREPARE_MANIFEST=$source: no such file"
    text=$(cat -- "$source")
  else
    source="the built-in manifest"
    text=$(builtin_manifest)
  fi
  while IFS= read -r line; do
    number=$((number + 1))
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    local fields
    read -r -a fields <<<"$line"
    [ ${#fields[@]} -eq 8 ] || die "$source, line $number: expected 8 fields, got ${#fields[@]}"
    local name=${fields[0]}
    [[ $name != all && -z ${FOLDER[$name]+x} ]] || die "$source, line $number: '$name' is given twice or reserved"
    [[ ${fields[2]} =~ ^(file|contains:.+|is:.+)$ ]] || die "$source, line $number: unknown layout '${fields[2]}'"
    local part
    for part in "${fields[1]}" "${fields[3]}" "${fields[2]#*:}"; do
      is_plain_name "$part" || die "$source, line $number: '$part' is not a plain folder or file name"
    done
    [[ ${fields[4]} == - || ${fields[4]} =~ ^[0-9]+$ ]] || die "$source, line $number: bad size '${fields[4]}'"
    [[ ${fields[5]} == UNPINNED ]] || is_hex "${fields[5]}" 64 || die "$source, line $number: bad SHA-256 '${fields[5]}'"
    [[ ${fields[6]} == - ]] || is_hex "${fields[6]}" 32 || die "$source, line $number: bad MD5 '${fields[6]}'"
    NAMES+=("$name")
    FOLDER[$name]=${fields[1]} LAYOUT[$name]=${fields[2]} FILE[$name]=${fields[3]}
    BYTES[$name]=${fields[4]} SHA256[$name]=${fields[5]} MD5[$name]=${fields[6]} URL[$name]=${fields[7]}
  done <<<"$text"
  [ ${#NAMES[@]} -gt 0 ] || die "$source lists no dataset"
}

known_names_line() {
  local IFS=,
  local line="${NAMES[*]}"
  echo "${line//,/, }"
}

print_manifest() {
  printf '%-19s %-18s %-24s %10s  %-64s  %s\n' NAME FOLDER FILE BYTES SHA-256 URL
  local name
  for name in "${NAMES[@]}"; do
    printf '%-19s %-18s %-24s %10s  %-64s  %s\n' "$name" "${FOLDER[$name]}/" "${FILE[$name]}" "${BYTES[$name]}" \
      "${SHA256[$name]}" "${URL[$name]}"
  done
}

# ------------------------------------------------------------------------------------------------ options

ROOT=data
MIRROR=""
TRUST_UNPINNED=0
LIST=0
VERIFY_ONLY=0
REQUESTED=()
declare -A SHA256_OVERRIDE

parse_args() {
  local words=()
  while [ $# -gt 0 ]; do
    case $1 in
      --root) [ $# -ge 2 ] || usage_error "--root needs a folder"; ROOT=$2; shift ;;
      --root=*) ROOT=${1#*=} ;;
      --mirror) [ $# -ge 2 ] || usage_error "--mirror needs a folder or URL"; MIRROR=$2; shift ;;
      --mirror=*) MIRROR=${1#*=} ;;
      --sha256) [ $# -ge 2 ] || usage_error "--sha256 needs NAME=HEX"; words+=("--sha256=$2"); shift ;;
      --sha256=*) words+=("$1") ;;
      --trust-unpinned) TRUST_UNPINNED=1 ;;
      --list) LIST=1 ;;
      --verify-only) VERIFY_ONLY=1 ;;
      -h | --help) load_manifest; usage; exit 0 ;;
      -*) usage_error "unknown option '$1'" ;;
      *) words+=("$1") ;;
    esac
    shift
  done
  [ -n "$ROOT" ] || usage_error "--root is empty"
  load_manifest
  local word
  for word in ${words[@]+"${words[@]}"}; do
    case $word in
      --sha256=*) add_sha256_override "${word#--sha256=}" ;;
      all) REQUESTED+=("${NAMES[@]}") ;;
      *) [ -n "${FOLDER[$word]+x}" ] || usage_error "unknown dataset '$word' (known: $(known_names_line), all)"
         REQUESTED+=("$word") ;;
    esac
  done
  mapfile -t REQUESTED < <(printf '%s\n' ${REQUESTED[@]+"${REQUESTED[@]}"} | awk 'NF && !seen[$0]++')
}

add_sha256_override() {
  local name=${1%%=*} hex=${1#*=}
  [[ $1 == *=* ]] || usage_error "--sha256 '$1': expected NAME=HEX"
  [ -n "${FOLDER[$name]+x}" ] || usage_error "--sha256: unknown dataset '$name' (known: $(known_names_line))"
  hex=$(tr 'A-F' 'a-f' <<<"$hex")
  is_hex "$hex" 64 || usage_error "--sha256 $name=...: '$hex' is not 64 hex digits"
  SHA256_OVERRIDE[$name]=$hex
}

# The SHA-256 a file must have; empty when it has no pin.
expected_sha256() {
  local name=$1
  if [ -n "${SHA256_OVERRIDE[$name]+x}" ]; then
    echo "${SHA256_OVERRIDE[$name]}"
  elif [ "${SHA256[$name]}" != UNPINNED ]; then
    echo "${SHA256[$name]}"
  fi
}

mirror_is_url() { [[ $MIRROR =~ ^(file|https?)://. ]]; }
mirror_is_folder() { [ -n "$MIRROR" ] && ! mirror_is_url; }

# ----------------------------------------------------------------------------------------------- checking

require_tools() {
  local needed=(sha256sum md5sum) name missing=()
  mirror_is_folder || needed+=(curl)
  for name in "${REQUESTED[@]}"; do
    case ${FILE[$name]} in
      *.tar.gz | *.tgz) needed+=(tar gzip) ;;
      *.tar) needed+=(tar) ;;
      *.zip) needed+=(unzip) ;;
    esac
  done
  local tool
  for tool in $(printf '%s\n' "${needed[@]}" | awk '!seen[$0]++'); do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing tools: ${missing[*]} (Debian: apt-get install $(debian_packages "${missing[@]}"))"
}

debian_packages() {
  local tool
  for tool in "$@"; do
    case $tool in sha256sum | md5sum) echo coreutils ;; *) echo "$tool" ;; esac
  done | awk '!seen[$0]++' | tr '\n' ' ' | sed 's/ $//'
}

file_bytes() { wc -c <"$1" | tr -d ' '; }
sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }
md5_of() { md5sum -- "$1" | cut -d' ' -f1; }

dest_of() { echo "$ROOT/${FOLDER[$1]}"; }

# The SHA-256 recorded in the folder's completion marker, or nothing.
recorded_sha256() {
  local marker sha=""
  marker="$(dest_of "$1")/.complete"
  if [ -f "$marker" ]; then read -r sha _ <"$marker" || true; fi
  echo "$sha"
}

layout_present() {
  local name=$1 dest
  dest=$(dest_of "$name")
  case ${LAYOUT[$name]} in
    file) [ -f "$dest/${FILE[$name]}" ] ;;
    contains:*) [ -d "$dest/${LAYOUT[$name]#contains:}" ] ;;
    is:*) [ -d "$dest" ] ;;
  esac
}

# Empty when NAME is prepared; otherwise why not.
why_not_prepared() {
  local name=$1 dest recorded expected
  dest=$(dest_of "$name")
  recorded=$(recorded_sha256 "$name")
  expected=$(expected_sha256 "$name")
  if [ ! -e "$dest" ]; then
    echo "$dest does not exist"
  elif [ -z "$recorded" ]; then
    echo "$dest has no completion marker (an interrupted or foreign copy)"
  elif [ -n "$expected" ] && [ "$recorded" != "$expected" ]; then
    echo "$dest was prepared from a file with SHA-256 $recorded, not the pinned $expected"
  elif ! layout_present "$name"; then
    echo "$dest is marked complete but lacks what its layout needs (${LAYOUT[$name]})"
  fi
}

# Names that would need installing but have no pin and no way to accept one.
refused_unpinned() {
  [ $TRUST_UNPINNED -eq 1 ] && return 0
  local name
  for name in "${REQUESTED[@]}"; do
    [ -z "$(expected_sha256 "$name")" ] && [ -n "$(why_not_prepared "$name")" ] && echo "$name"
  done
  return 0
}

verify_mirror_file() {
  local name=$1 path="$MIRROR/${FILE[$1]}" expected actual
  expected=$(expected_sha256 "$name")
  if [ ! -f "$path" ]; then
    echo "$name: mirror: $path is missing"
    return 1
  fi
  actual=$(sha256_of "$path")
  if [ -z "$expected" ] && [ "${MD5[$name]}" != - ] && [ "$(md5_of "$path")" != "${MD5[$name]}" ]; then
    echo "$name: mirror: $path has MD5 $(md5_of "$path"), expected the published ${MD5[$name]}"
    return 1
  elif [ -z "$expected" ]; then
    echo "$name: mirror: $path is unpinned (its SHA-256 is $actual)"
  elif [ "$actual" = "$expected" ]; then
    echo "$name: mirror: $path matches its pin"
  else
    echo "$name: mirror: $path has SHA-256 $actual, expected $expected"
    return 1
  fi
}

verify_only() {
  local name reason failed=0
  for name in "${REQUESTED[@]}"; do
    reason=$(why_not_prepared "$name")
    if [ -z "$reason" ]; then
      say "$name: prepared in $(dest_of "$name") (sha256 $(recorded_sha256 "$name"))"
    else
      say "$name: not prepared: $reason"
      failed=1
    fi
    if mirror_is_folder; then verify_mirror_file "$name" || failed=1; fi
  done
  return $failed
}

# -------------------------------------------------------------------------------------------- downloading

DOWNLOADS=""
STAGING=""

source_of() {
  if [ -n "$MIRROR" ]; then echo "${MIRROR%/}/${FILE[$1]}"; else echo "${URL[$1]}"; fi
}

# Sets CURL_STATUS, CURL_HTTP and CURL_DETAIL (" (curl's message)" when stderr is not a terminal; on a
# terminal curl draws its progress bar and prints its message itself).
CURL_STATUS=0 CURL_HTTP="" CURL_DETAIL=""
run_curl() {
  local url=$1 part=$2 errors="$DOWNLOADS/.curl-errors"
  local common=(--fail --location --retry 5 --retry-delay 2 --connect-timeout 30 --speed-limit 1024
    --speed-time 60 --proto "=https,http,file" --continue-at - --output "$part" --write-out '%{http_code}')
  CURL_STATUS=0 CURL_DETAIL=""
  if [ -t 2 ]; then
    CURL_HTTP=$(curl "${common[@]}" --progress-bar -- "$url") || CURL_STATUS=$?
  else
    CURL_HTTP=$(curl "${common[@]}" --silent --show-error -- "$url" 2>"$errors") || CURL_STATUS=$?
    local message
    message=$(grep -v '^[[:space:]]*$' "$errors" | tail -n 1 | sed 's/^curl: ([0-9]*) //') || true
    [ -z "$message" ] || CURL_DETAIL=" ($message)"
    rm -f -- "$errors"
  fi
}

part_bytes() { if [ -f "$1" ]; then file_bytes "$1"; else echo 0; fi; }

# Leaves the whole file at PART, resuming what an earlier run left there; fails naming the URL.
download() {
  local name=$1 url=$2 part=$3 have expected_bytes=${BYTES[$1]}
  have=$(part_bytes "$part")
  if [ "$expected_bytes" != - ] && [ "$have" -ge "$expected_bytes" ]; then
    [ "$have" -eq "$expected_bytes" ] && return 0
    warn "$name: $part is larger than the file ($have > $expected_bytes bytes): downloading it again"
    rm -f -- "$part"
    have=0
  fi
  if [ "$have" -gt 0 ]; then say "$name: resuming $url at byte $have"; else say "$name: downloading $url"; fi
  run_curl "$url" "$part"
  if [ $CURL_STATUS -eq 33 ]; then
    warn "$name: the server cannot resume ($url): downloading from the start"
    rm -f -- "$part"
    have=0
    run_curl "$url" "$part"
  fi
  [ $CURL_STATUS -eq 0 ] && return 0
  # 416 to a range request from the end of the file: an earlier run had finished it (verified next).
  [ $CURL_STATUS -eq 22 ] && [ "$CURL_HTTP" = 416 ] && [ "$have" -gt 0 ] && return 0
  local kept=""
  [ "$(part_bytes "$part")" -eq 0 ] || kept="; $(part_bytes "$part") bytes kept in $part, rerun to resume"
  case $CURL_STATUS in
    6) die "$name: cannot resolve the host of $url$CURL_DETAIL" ;;
    7) die "$name: server unreachable: $url$CURL_DETAIL$kept" ;;
    22) die "$name: HTTP $CURL_HTTP from $url$CURL_DETAIL$kept" ;;
    18 | 28 | 52 | 55 | 56) die "$name: download of $url cut short$CURL_DETAIL$kept" ;;
    35 | 51 | 58 | 60) die "$name: TLS failure talking to $url$CURL_DETAIL" ;;
    37) die "$name: cannot read $url$CURL_DETAIL" ;;
    *) die "$name: download of $url failed (curl exit $CURL_STATUS)$CURL_DETAIL$kept" ;;
  esac
}

copy_from_mirror_folder() {
  local name=$1 part=$2 path="$MIRROR/${FILE[$1]}"
  [ -f "$path" ] || die "$name: the mirror folder $MIRROR has no ${FILE[$name]}"
  say "$name: copying $path"
  cp -- "$path" "$part.copying" || die "$name: cannot copy $path to $part"
  mv -f -- "$part.copying" "$part"
}

joined() {
  local out="" item
  for item in "$@"; do out+="${out:+; }$item"; done
  echo "$out"
}

# Checks PART against every hash and the size that the manifest (or --sha256) knows; on a mismatch moves it
# to FILE.bad and fails. Sets VERIFIED_SHA256.
VERIFIED_SHA256=""
verify_download() {
  local name=$1 part=$2 file=${FILE[$1]} expected actual md5 bytes problems=()
  expected=$(expected_sha256 "$name")
  actual=$(sha256_of "$part")
  bytes=$(file_bytes "$part")
  [ -z "$expected" ] || [ "$actual" = "$expected" ] || problems+=("expected sha256 $expected, got $actual")
  if [ "${MD5[$name]}" != - ]; then
    md5=$(md5_of "$part")
    local also=""
    [ -n "$expected" ] || also=" (its sha256 is $actual)"
    [ "$md5" = "${MD5[$name]}" ] || problems+=("expected md5 ${MD5[$name]}, got $md5$also")
  fi
  [ "${BYTES[$name]}" = - ] || [ "$bytes" -eq "${BYTES[$name]}" ] || problems+=("$bytes bytes, expected ${BYTES[$name]}")
  if [ ${#problems[@]} -gt 0 ]; then
    mv -f -- "$part" "$DOWNLOADS/$file.bad"
    die "$name: checksum mismatch for $file: $(joined "${problems[@]}") (moved to $DOWNLOADS/$file.bad)"
  fi
  VERIFIED_SHA256=$actual
}

# Leaves the verified file at .downloads/FILE; sets VERIFIED_SHA256.
obtain() {
  local name=$1 file=${FILE[$1]}
  local part="$DOWNLOADS/$file.part"
  # A file verified by a run that did not finish installing it: verified again rather than downloaded again.
  if [ -f "$DOWNLOADS/$file" ] && [ ! -f "$part" ]; then mv -- "$DOWNLOADS/$file" "$part"; fi
  if ! mirror_is_folder; then
    download "$name" "$(source_of "$name")" "$part"
  elif [ ! -f "$part" ] || [ "${BYTES[$name]}" = - ] || [ "$(file_bytes "$part")" -ne "${BYTES[$name]}" ]; then
    copy_from_mirror_folder "$name" "$part"
  fi
  verify_download "$name" "$part"
  mv -f -- "$part" "$DOWNLOADS/$file"
}

# ----------------------------------------------------------------------------------------------- laying out

unpack() {
  local name=$1 archive=$2 into=$3 errors="$STAGING/.unpack-errors" status=0
  case $archive in
    *.tar.gz | *.tgz) tar -xzf "$archive" -C "$into" --no-same-owner 2>"$errors" || status=$? ;;
    *.tar) tar -xf "$archive" -C "$into" --no-same-owner 2>"$errors" || status=$? ;;
    *.zip) unzip -q "$archive" -d "$into" 2>"$errors" || status=$? ;;
    *) die "$name: layout ${LAYOUT[$name]} needs an archive (.tar.gz, .tgz, .tar or .zip), not ${FILE[$name]}" ;;
  esac
  [ $status -eq 0 ] || die "$name: cannot unpack ${FILE[$name]} ($(grep -v '^$' "$errors" | tail -n 1))"
}

top_entries() { (cd "$1" && find . -mindepth 1 -maxdepth 1 -printf '%f ' | sed 's/ $//'); }

# Lays NAME out in the staging folder; sets LAID_OUT to the folder that becomes ROOT/FOLDER.
LAID_OUT=""
stage() {
  local name=$1 archive=$2 unpacked="$STAGING/unpacked" layout=${LAYOUT[$1]}
  mkdir -- "$unpacked"
  if [ "$layout" = file ]; then
    mv -- "$archive" "$unpacked/${FILE[$name]}"
    LAID_OUT=$unpacked
    return
  fi
  local top=${layout#*:}
  unpack "$name" "$archive" "$unpacked"
  [ -d "$unpacked/$top" ] || die "$name: ${FILE[$name]} has no top folder $top (it holds: $(top_entries "$unpacked"))"
  if [ "${layout%%:*}" = contains ]; then LAID_OUT=$unpacked; else LAID_OUT="$unpacked/$top"; fi
}

# One rename puts the laid-out folder in place (a previous copy goes aside first); the marker comes last.
install_staged() {
  local name=$1 laid_out=$2 sha=$3 dest
  dest=$(dest_of "$name")
  if [ -e "$dest" ] || [ -L "$dest" ]; then mv -- "$dest" "$STAGING/previous"; fi
  mv -- "$laid_out" "$dest"
  printf '%s  %s\n' "$sha" "${FILE[$name]}" >"$dest/.complete.tmp"
  mv -f -- "$dest/.complete.tmp" "$dest/.complete"
}

warn_unpinned() {
  local name=$1 sha=$2 md5_note="no published hash to check it against"
  [ "${MD5[$name]}" = - ] || md5_note="its MD5 matches the published ${MD5[$name]}"
  warn "$name: ${FILE[$name]} is NOT PINNED and was installed on trust (--trust-unpinned; $md5_note)."
  warn "$name: its SHA-256 is $sha -- pin it with --sha256 $name=$sha"
}

prepare() {
  local name=$1 reason dest
  dest=$(dest_of "$name")
  reason=$(why_not_prepared "$name")
  if [ -z "$reason" ]; then
    say "$name: already prepared in $dest"
    return 0
  fi
  [ ! -e "$dest" ] || warn "$name: $reason: redoing it"
  rm -rf -- "$ROOT/.staging/$name".*  # left by a run that was killed (the lock rules out a live one)
  obtain "$name"
  local sha=$VERIFIED_SHA256
  [ -n "$(expected_sha256 "$name")" ] || warn_unpinned "$name" "$sha"
  STAGING=$(mktemp -d "$ROOT/.staging/$name.XXXXXX")
  stage "$name" "$DOWNLOADS/${FILE[$name]}"
  install_staged "$name" "$LAID_OUT" "$sha"
  rm -rf -- "$STAGING"
  STAGING=""
  rm -f -- "$DOWNLOADS/${FILE[$name]}"
  say "$name: prepared in $dest (sha256 $sha)"
}

# ----------------------------------------------------------------------------------------------------- main

cleanup() {
  [ -z "$STAGING" ] || rm -rf -- "$STAGING"
  [ -z "$DOWNLOADS" ] || rmdir -- "$ROOT/.staging" 2>/dev/null || true
}

take_lock() {
  command -v flock >/dev/null || return 0
  exec 9>"$ROOT/.prepare.lock"
  flock -n 9 || die "another prepare-data.sh is working on $ROOT (lock $ROOT/.prepare.lock)"
}

main() {
  parse_args "$@"
  if [ $LIST -eq 1 ]; then
    print_manifest
    return 0
  fi
  [ ${#REQUESTED[@]} -gt 0 ] || usage_error "name at least one dataset ($(known_names_line)) or all"
  if mirror_is_folder && [ ! -d "$MIRROR" ]; then
    usage_error "--mirror $MIRROR: no such folder (a URL must start with file://, http:// or https://)"
  fi
  if [ $VERIFY_ONLY -eq 1 ]; then
    verify_only
    return
  fi
  local refused
  refused=$(refused_unpinned | paste -sd, - | sed 's/,/, /g')
  [ -z "$refused" ] || die "no SHA-256 pin for: $refused; pass --sha256 NAME=HEX (a hash you trust) or --trust-unpinned"
  require_tools
  mkdir -p -- "$ROOT/.downloads" "$ROOT/.staging" || die "cannot create $ROOT/.downloads"
  DOWNLOADS="$ROOT/.downloads"
  take_lock
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local name
  for name in "${REQUESTED[@]}"; do prepare "$name"; done
}

main "$@"
