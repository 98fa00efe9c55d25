#!/usr/bin/env python3
"""Check a wasm module: it must have no imports (or, with --imports, exactly
the given ones), and (if names are given) exactly the given exports.

Usage: check_no_imports.py [--imports MOD.NAME,...] MODULE.wasm [EXPECTED_EXPORT ...]
Exits 1 (listing what is wrong) on failure. Only the standard library is used.
"""
import sys

SECTION_IMPORT, SECTION_EXPORT, SECTION_CODE = 2, 7, 10
EXTERN_KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}


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
    while pos < len(buf):
        sid = buf[pos]
        size, pos = leb_u32(buf, pos + 1)
        end = pos + size
        if sid == SECTION_IMPORT:
            count, p = leb_u32(buf, pos)
            for _ in range(count):
                mod, p = name(buf, p)
                field, p = name(buf, p)
                imports.append(f"{mod}.{field}")
                kind = buf[p]
                p += 1
                if kind == 0:                  # func: type index
                    _, p = leb_u32(buf, p)
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
                _, p = leb_u32(buf, p + 1)
                exports.append((field, EXTERN_KINDS.get(kind, str(kind))))
        elif sid == SECTION_CODE:
            code_size = size
        pos = end
    return len(buf), imports, exports, code_size


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    args = sys.argv[1:]
    allowed = []
    if args[:1] == ["--imports"] and len(args) > 2:
        allowed, args = args[1].split(","), args[2:]
    path, expected = args[0], args[1:]
    total, imports, exports, code_size = parse(path)
    ok = True
    if sorted(imports) != sorted(allowed):
        print(f"{path}: imports {sorted(imports)}, expected {sorted(allowed) or 'none'}", file=sys.stderr)
        ok = False
    names = sorted(e[0] for e in exports)
    if expected and names != sorted(expected):
        print(f"{path}: exports {names}, expected {sorted(expected)}", file=sys.stderr)
        ok = False
    if not ok:
        sys.exit(1)
    print(f"{path}: ok: {len(imports)} imports, exports "
          + ", ".join(f"{n} ({k})" for n, k in exports)
          + f"; {total} bytes, code section {code_size} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
