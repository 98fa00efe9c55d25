#!/usr/bin/env python3
"""Check a wasm module: it must have no imports (or, with --imports, exactly
the given ones), and (if names are given) exactly the given exports.

Usage: check_no_imports.py [--allow-wasi] [--imports MOD.NAME,...] [--name NAME]
                           MODULE.wasm [EXPECTED_EXPORT ...]
--allow-wasi accepts any import from wasi_snapshot_preview1 (WASI preview 1) on top of
those --imports names; --name is the module's name in messages (default: its path).
On success prints the imports and the exports with their types.
Exits 1 (listing what is wrong) on failure. Only the standard library is used.
"""
import sys

SECTION_TYPE, SECTION_IMPORT, SECTION_FUNCTION, SECTION_EXPORT, SECTION_CODE = 1, 2, 3, 7, 10
EXTERN_KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}
VALTYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128",
            0x70: "funcref", 0x6F: "externref"}
WASI_P1 = "wasi_snapshot_preview1"


def leb_u32(buf, pos):
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def name(buf, pos):
    n, pos = leb_u32(buf, pos)
    return buf[pos:pos + n].decode("utf-8"), pos + n


def parse(path):
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:4] != b"\0asm" or buf[4:8] != b"\1\0\0\0":
        raise SystemExit(f"{path}: not a wasm (version 1) module")
    pos, imports, exports, code_size = 8, [], [], 0
    types, func_types = [], []   # signatures; type index of each function (imports first)
    while pos < len(buf):
        sid = buf[pos]
        size, pos = leb_u32(buf, pos + 1)
        end = pos + size
        if sid == SECTION_TYPE:
            count, p = leb_u32(buf, pos)
            for _ in range(count):
                p += 1                         # 0x60: func type
                sig = []
                for _ in range(2):             # params, then results
                    n, p = leb_u32(buf, p)
                    sig.append(",".join(VALTYPES.get(b, hex(b)) for b in buf[p:p + n]))
                    p += n
                types.append(f"({sig[0]})->({sig[1]})")
        elif sid == SECTION_FUNCTION:
            count, p = leb_u32(buf, pos)
            for _ in range(count):
                t, p = leb_u32(buf, p)
                func_types.append(t)
        elif sid == SECTION_IMPORT:
            count, p = leb_u32(buf, pos)
            for _ in range(count):
                mod, p = name(buf, p)
                field, p = name(buf, p)
                imports.append(f"{mod}.{field}")
                kind = buf[p]
                p += 1
                if kind == 0:                  # func: type index
                    t, p = leb_u32(buf, p)
                    func_types.append(t)
                elif kind in (1, 2):           # table (reftype + limits) / memory (limits)
                    if kind == 1:
                        p += 1
                    flags, p = leb_u32(buf, p)
                    _, p = leb_u32(buf, p)
                    if flags & 1:
                        _, p = leb_u32(buf, p)
                elif kind == 3:                # global: valtype + mutability
                    p += 2
                else:                          # tag: attribute + type index
                    _, p = leb_u32(buf, p + 1)
        elif sid == SECTION_EXPORT:
            count, p = leb_u32(buf, pos)
            for _ in range(count):
                field, p = name(buf, p)
                kind = buf[p]
                index, p = leb_u32(buf, p + 1)
                exports.append((field, EXTERN_KINDS.get(kind, str(kind)), index))
        elif sid == SECTION_CODE:
            code_size = size
        pos = end
    exports = [(field, f"func {types[func_types[i]]}" if kind == "func" else kind)
               for field, kind, i in exports]
    return len(buf), imports, exports, code_size


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    args = sys.argv[1:]
    allowed, allow_wasi, label = [], False, None
    while args[:1] in (["--imports"], ["--allow-wasi"], ["--name"]):
        if args[0] == "--allow-wasi":
            allow_wasi, args = True, args[1:]
        elif len(args) > 2 and args[0] == "--imports":
            allowed, args = args[1].split(","), args[2:]
        elif len(args) > 2:
            label, args = args[1], args[2:]
        else:
            raise SystemExit(__doc__)
    if not args:
        raise SystemExit(__doc__)
    path, expected = args[0], args[1:]
    total, imports, exports, code_size = parse(path)
    name = label or path
    checked = [i for i in imports if not (allow_wasi and i.startswith(WASI_P1 + "."))]
    ok = True
    if sorted(checked) != sorted(allowed):
        extra = f" (and any {WASI_P1}.*)" if allow_wasi else ""
        print(f"{name}: imports {sorted(checked)}, expected {sorted(allowed) or 'none'}{extra}",
              file=sys.stderr)
        ok = False
    names = sorted(e[0] for e in exports)
    if expected and names != sorted(expected):
        print(f"{name}: exports {names}, expected {sorted(expected)}", file=sys.stderr)
        ok = False
    if not ok:
        sys.exit(1)
    wasi = len(imports) - len(checked)
    shown = checked + ([f"{wasi} from {WASI_P1}"] if wasi else [])
    print(f"{name}: ok: {len(imports)} imports ({', '.join(shown) or 'none'}), exports "
          + ", ".join(f"{n} ({k})" for n, k in exports)
          + f"; {total} bytes, code section {code_size} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
