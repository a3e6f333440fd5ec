#!/usr/bin/env bash
# Builds every CosmWasm contract under contracts/*/ to artifacts/<name>.wasm
# (crate name with underscores, e.g. artifacts/nrn_token.wasm) and writes
# artifacts/checksums.txt (sha256sum format). Called by `make contracts`.
#
# The wasm toolchain is Debian's rustc-web (it ships the std sources, so std is
# rebuilt for wasm32 with -Zbuild-std), unpacked into tools/rust-web by
# scripts/setup-wasm-toolchain.sh; rustup's own cargo drives it. See
# ARCHITECTURE.md, "External parts and how they start".
#
# Each contract is built in its own cargo invocation: building several at once
# would unify features, and a contract that depends on another with the
# `library` feature would strip the other's entry points.
#
# The first run builds std too (about 1-2 min on 2 cores); later runs take
# seconds and leave unchanged artifacts untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

scripts/setup-wasm-toolchain.sh

dir="$root/tools/rust-web"
export PATH="$dir/usr/bin:$PATH" # rust-lld
export LD_LIBRARY_PATH="$dir/usr/lib/x86_64-linux-gnu:$dir/usr/lib/llvm-22/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export RUSTC="$dir/usr/bin/rustc"
export RUSTC_BOOTSTRAP=1
# Separate target dir: these flags and this rustc differ from the host build.
export CARGO_TARGET_DIR="$root/target/wasm"

# -Zbuild-std reads the std sources from <sysroot>/lib/rustlib/src/rust/library.
sysroot="$("$RUSTC" --print sysroot)"
if [ ! -f "$sysroot/lib/rustlib/src/rust/library/Cargo.lock" ]; then
  echo "build-contracts: no std sources under $sysroot/lib/rustlib/src/rust/library" >&2
  echo "build-contracts: remove tools/rust-web and run scripts/setup-wasm-toolchain.sh" >&2
  exit 1
fi

# --allow-undefined: the VM's imports (db_read, ...) stay imports.
# target-cpu=mvp: no bulk-memory/sign-ext/... instructions, which the VM refuses.
# The path remapping keeps local paths out of the panic messages in the binary.
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
rustflags=(
  -C link-arg=--allow-undefined
  -C target-cpu=mvp
  "--remap-path-prefix=$root=/code"
  "--remap-path-prefix=$cargo_home=/cargo"
  "--remap-path-prefix=$sysroot=/rustc"
)
CARGO_ENCODED_RUSTFLAGS="$(IFS=$'\x1f'; echo "${rustflags[*]}")"
export CARGO_ENCODED_RUSTFLAGS
unset RUSTFLAGS

# Contract release profile, without touching the workspace [profile.release]
# that the node binary uses.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=s
export CARGO_PROFILE_RELEASE_LTO=true
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
export CARGO_PROFILE_RELEASE_PANIC=abort
export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=false
export CARGO_PROFILE_RELEASE_DEBUG=false
export CARGO_PROFILE_RELEASE_STRIP=symbols
export CARGO_PROFILE_RELEASE_INCREMENTAL=false

contracts=()
for manifest in contracts/*/Cargo.toml; do
  [ -f "$manifest" ] || continue
  name="$(sed -n 's/^name *= *"\([^"]*\)".*/\1/p' "$manifest" | head -n1)"
  if [ -z "$name" ]; then
    echo "build-contracts: no package name in $manifest" >&2
    exit 1
  fi
  contracts+=("$name")
done
if [ "${#contracts[@]}" -eq 0 ]; then
  echo "build-contracts: no contracts under contracts/*/" >&2
  exit 1
fi

mkdir -p artifacts
out="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release"
for name in "${contracts[@]}"; do
  echo "build-contracts: building $name"
  cargo build --release --lib --target wasm32-unknown-unknown \
    -Zbuild-std=std,panic_abort -p "$name"
  file="${name//-/_}.wasm"
  if [ ! -f "$out/$file" ]; then
    echo "build-contracts: cargo produced no $out/$file (is crate-type cdylib?)" >&2
    exit 1
  fi
  if ! cmp -s "$out/$file" "artifacts/$file"; then
    cp "$out/$file" "artifacts/$file.tmp"
    mv "artifacts/$file.tmp" "artifacts/$file"
  fi
done

# Checks each artifact the way the chain's VM (cosmwasm-vm) will: the required
# exports, imports only from the VM's list, one memory, and only MVP
# instructions; on top of that, no floating point at all.
check_wasm() {
  python3 - "$@" <<'PY'
import sys

SUPPORTED_IMPORTS = {
    "abort", "db_read", "db_write", "db_remove", "db_scan", "db_next",
    "db_next_key", "db_next_value", "addr_validate", "addr_canonicalize",
    "addr_humanize", "bls12_381_aggregate_g1", "bls12_381_aggregate_g2",
    "bls12_381_pairing_equality", "bls12_381_hash_to_g1", "bls12_381_hash_to_g2",
    "secp256k1_verify", "secp256k1_recover_pubkey", "secp256r1_verify",
    "secp256r1_recover_pubkey", "ed25519_verify", "ed25519_batch_verify",
    "debug", "query_chain",
}
REQUIRED_EXPORTS = ["instantiate", "execute", "query", "allocate", "deallocate",
                    "interface_version_8"]
F32, F64 = 0x7D, 0x7C
VALTYPES = {0x7F: "i32", 0x7E: "i64", F32: "f32", F64: "f64", 0x7B: "v128",
            0x70: "funcref", 0x6F: "externref"}
# Float instructions of the MVP (loads/stores, consts, comparisons,
# arithmetic, conversions, reinterpretations).
FLOAT_OPS = ({0x2A, 0x2B, 0x38, 0x39, 0x43, 0x44} | set(range(0x5B, 0x67))
             | set(range(0x8B, 0xA7)) | {0xA8, 0xA9, 0xAA, 0xAB}
             | set(range(0xAE, 0xC0)))


class Reader:
    def __init__(self, data, pos=0, end=None):
        self.data, self.pos = data, pos
        self.end = len(data) if end is None else end

    def byte(self):
        if self.pos >= self.end:
            raise ValueError("unexpected end of data")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uleb(self):
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result

    def sleb(self):
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if b & 0x40:
                    result -= 1 << shift
                return result

    def bytes(self, n):
        if self.pos + n > self.end:
            raise ValueError("unexpected end of data")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def name(self):
        return self.bytes(self.uleb()).decode("utf-8")


def limits(r):
    flags = r.byte()
    r.uleb()
    if flags & 1:
        r.uleb()


def check(path):
    data = open(path, "rb").read()
    errors = []
    if data[:8] != b"\0asm\x01\0\0\0":
        return [f"{path}: not a wasm module (bad magic/version)"], {}
    r = Reader(data, 8)
    imports, exports, floats, non_mvp = [], [], set(), set()
    memories = tables = 0
    while r.pos < len(data):
        sid = r.byte()
        size = r.uleb()
        s = Reader(data, r.pos, r.pos + size)
        r.pos += size
        if sid == 1:  # types
            for _ in range(s.uleb()):
                form = s.byte()
                if form != 0x60:
                    errors.append(f"unexpected type form {form:#x}")
                    break
                params = [s.byte() for _ in range(s.uleb())]
                results = [s.byte() for _ in range(s.uleb())]
                if len(results) > 1:
                    non_mvp.add("multi-value results")
                for t in params + results:
                    if t in (F32, F64):
                        floats.add(f"function type with {VALTYPES[t]}")
        elif sid == 2:  # imports
            for _ in range(s.uleb()):
                module, field = s.name(), s.name()
                kind = s.byte()
                imports.append((module, field, kind))
                if kind == 0:
                    s.uleb()
                elif kind == 1:
                    s.byte(); limits(s); tables += 1
                elif kind == 2:
                    limits(s); memories += 1
                elif kind == 3:
                    t = s.byte(); s.byte()
                    if t in (F32, F64):
                        floats.add("imported float global")
        elif sid == 4:  # tables
            for _ in range(s.uleb()):
                s.byte(); limits(s); tables += 1
        elif sid == 5:  # memories
            for _ in range(s.uleb()):
                limits(s); memories += 1
        elif sid == 6:  # globals
            for _ in range(s.uleb()):
                t = s.byte(); s.byte()
                if t in (F32, F64):
                    floats.add(f"global of type {VALTYPES[t]}")
                scan_code(s, floats, non_mvp, until_end=True)
        elif sid == 7:  # exports
            for _ in range(s.uleb()):
                field = s.name()
                kind = s.byte()
                s.uleb()
                exports.append((field, kind))
        elif sid == 10:  # code
            for _ in range(s.uleb()):
                body_size = s.uleb()
                body = Reader(data, s.pos, s.pos + body_size)
                s.pos += body_size
                for _ in range(body.uleb()):
                    body.uleb()
                    t = body.byte()
                    if t in (F32, F64):
                        floats.add(f"local of type {VALTYPES[t]}")
                scan_code(body, floats, non_mvp, until_end=False)
    export_funcs = {name for name, kind in exports if kind == 0}
    for name in REQUIRED_EXPORTS:
        if name not in export_funcs:
            errors.append(f"missing export {name}")
    versions = [n for n in export_funcs if n.startswith("interface_version_")]
    if len(versions) != 1:
        errors.append(f"expected one interface_version_* export, found {versions}")
    for module, field, kind in imports:
        if module != "env" or field not in SUPPORTED_IMPORTS:
            errors.append(f"unsupported import {module}.{field}")
        elif kind != 0:
            errors.append(f"import {module}.{field} is not a function")
    if memories != 1 or any(kind == 2 for _, _, kind in imports):
        errors.append(f"need exactly one memory defined by the module, found {memories}")
    if tables > 1:
        errors.append(f"at most one table allowed, found {tables}")
    for f in sorted(floats):
        errors.append(f"floating point: {f}")
    for f in sorted(non_mvp):
        errors.append(f"not MVP wasm: {f}")
    info = {
        "size": len(data),
        "imports": sorted(f"{m}.{f}" for m, f, _ in imports),
        "exports": sorted(export_funcs),
    }
    return [f"{path}: {e}" for e in errors], info


def scan_code(r, floats, non_mvp, until_end):
    """Walks an instruction sequence, recording float and non-MVP instructions."""
    depth = 0
    while r.pos < r.end:
        op = r.byte()
        if op in FLOAT_OPS:
            floats.add(f"instruction {op:#04x}")
        if op in (0x02, 0x03, 0x04):  # block, loop, if
            depth += 1
            bt = r.data[r.pos]
            if bt == 0x40 or bt in VALTYPES:
                r.byte()
                if bt in (F32, F64):
                    floats.add(f"block of type {VALTYPES[bt]}")
            else:
                r.sleb()
                non_mvp.add("multi-value block type")
        elif op == 0x0B:  # end
            if depth == 0 and until_end:
                return
            depth -= 1
        elif op in (0x0C, 0x0D, 0x10, 0x20, 0x21, 0x22, 0x23, 0x24, 0xD2):
            r.uleb()
        elif op == 0x0E:  # br_table
            for _ in range(r.uleb()):
                r.uleb()
            r.uleb()
        elif op == 0x11:  # call_indirect
            r.uleb()
            if r.uleb() != 0:
                non_mvp.add("call_indirect on a table other than 0")
        elif op in (0x25, 0x26):
            r.uleb()
            non_mvp.add("table.get/table.set")
        elif op == 0x1C:
            for _ in range(r.uleb()):
                r.byte()
            non_mvp.add("typed select")
        elif 0x28 <= op <= 0x3E:  # loads and stores: memarg
            r.uleb(); r.uleb()
        elif op in (0x3F, 0x40):  # memory.size, memory.grow
            r.byte()
        elif op == 0x41:
            r.sleb()
        elif op == 0x42:
            r.sleb()
        elif op == 0x43:
            r.bytes(4)
        elif op == 0x44:
            r.bytes(8)
        elif op in (0x00, 0x01, 0x05, 0x0F, 0x1A, 0x1B) or 0x45 <= op <= 0xBF:
            pass
        elif 0xC0 <= op <= 0xC4:
            non_mvp.add("sign-extension instructions")
        elif op == 0xD0:
            r.byte(); non_mvp.add("ref.null")
        elif op == 0xD1:
            non_mvp.add("ref.is_null")
        elif op == 0xFC:
            sub = r.uleb()
            if sub <= 7:
                floats.add("saturating float-to-int instruction")
            elif sub == 8:
                r.uleb(); r.byte(); non_mvp.add("bulk memory (memory.init)")
            elif sub == 9:
                r.uleb(); non_mvp.add("bulk memory (data.drop)")
            elif sub == 10:
                r.byte(); r.byte(); non_mvp.add("bulk memory (memory.copy)")
            elif sub == 11:
                r.byte(); non_mvp.add("bulk memory (memory.fill)")
            elif sub in (12, 14):
                r.uleb(); r.uleb(); non_mvp.add("bulk table operations")
            elif sub in (13, 15, 16, 17):
                r.uleb(); non_mvp.add("table operations")
            else:
                raise ValueError(f"unknown instruction 0xfc {sub}")
        else:
            raise ValueError(f"unknown instruction {op:#04x} (SIMD/threads?)")


failed = False
for path in sys.argv[1:]:
    try:
        errors, info = check(path)
    except ValueError as e:
        errors, info = [f"{path}: cannot parse: {e}"], {}
    if errors:
        failed = True
        print("\n".join(errors), file=sys.stderr)
        continue
    print(f"  {path}: {info['size']} bytes, checks passed "
          f"(exports: {', '.join(info['exports'])}; imports: {', '.join(info['imports'])})")
sys.exit(1 if failed else 0)
PY
}

files=()
for name in "${contracts[@]}"; do files+=("artifacts/${name//-/_}.wasm"); done
if command -v python3 >/dev/null 2>&1; then
  check_wasm "${files[@]}"
else
  # Without python: at least the magic number and the export names.
  for f in "${files[@]}"; do
    if [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')" != "0061736d" ]; then
      echo "build-contracts: $f is not a wasm module" >&2
      exit 1
    fi
    for export in instantiate execute query allocate deallocate interface_version_8; do
      if ! grep -qa "$export" "$f"; then
        echo "build-contracts: $f lacks the export $export" >&2
        exit 1
      fi
    done
  done
  echo "build-contracts: python3 not found, only the export names were checked" >&2
fi

(
  cd artifacts
  sha256sum "${files[@]#artifacts/}" >checksums.txt.tmp
  if cmp -s checksums.txt.tmp checksums.txt; then rm checksums.txt.tmp; else mv checksums.txt.tmp checksums.txt; fi
)
echo "build-contracts: built"
for f in "${files[@]}"; do
  printf '  %-32s %8d bytes  %s\n' "$f" "$(wc -c <"$f")" "$(sha256sum "$f" | cut -d' ' -f1)"
done
