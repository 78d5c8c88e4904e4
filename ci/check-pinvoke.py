#!/usr/bin/env python3
"""Checks the hand-written C# P/Invoke declarations against include/qmq.h.

Parses the function prototypes, callback typedefs and structs of the header, and the C#
`[DllImport]` methods, `[UnmanagedFunctionPointer]` delegates and `[StructLayout]` structs
under the given C# folders. Fails when:

* a C# declaration names a function the header does not declare (EntryPoint= counts);
* a declaration does not use CallingConvention.Cdecl;
* the parameter count differs;
* a parameter or return type has another width than the C one: C pointers, size_t and
  function pointers need IntPtr/UIntPtr/T*/out/ref/a delegate; uint64_t/int64_t need
  long/ulong; 32-bit ints and enums need int/uint (or a C# enum); C bool needs
  [MarshalAs(UnmanagedType.I1)] bool (a bare bool marshals as a 4-byte BOOL); for out/ref/T*
  the pointee widths are compared too;
* a delegate named like a header callback typedef, or a struct mapped to a header struct
  (same name, or name + "Native"), differs in the same way field by field.

Header functions without a C# declaration are listed, not failed (the binding need not wrap
everything). Standard library only.

Usage: check-pinvoke.py HEADER CS_DIR [CS_DIR...]
"""
import os
import re
import sys

# ---------------------------------------------------------------- C side

C_SCALARS = {
    "void": "void", "bool": "bool", "_Bool": "bool",
    "char": "8", "int8_t": "8", "uint8_t": "8",
    "int16_t": "16", "uint16_t": "16",
    "int": "32", "int32_t": "32", "uint32_t": "32", "float": "32",
    "int64_t": "64", "uint64_t": "64", "double": "64",
    "size_t": "ptr", "uintptr_t": "ptr", "intptr_t": "ptr", "ptrdiff_t": "ptr",
}


def strip_c(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return "\n".join(l for l in text.split("\n") if not l.lstrip().startswith("#"))


def balanced(text, open_pos):
    """Index of the bracket closing the one at `open_pos` ((, [ or {)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = []
    for i in range(open_pos, len(text)):
        ch = text[i]
        if ch in pairs:
            stack.append(pairs[ch])
        elif stack and ch == stack[-1]:
            stack.pop()
            if not stack:
                return i
    raise ValueError("unbalanced bracket at %d" % open_pos)


def split_top(s, sep=","):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([<{":
            depth += 1
        elif ch in ")]>}":
            depth -= 1
        if ch == sep and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [p.strip() for p in out]


class CHeader:
    def __init__(self, path):
        raw = open(path, encoding="utf-8").read()
        text = strip_c(raw)
        self.enums = set(re.findall(r"typedef\s+int32_t\s+(\w+)\s*;", text))
        self.enums |= set(re.findall(r"\benum\s+(\w+)", text))
        self.callbacks = {}
        for m in re.finditer(r"typedef\s+([\w\s\*]+?)\(\s*\*\s*(\w+)\s*\)\s*\(([^)]*)\)\s*;", text):
            self.callbacks[m.group(2)] = (m.group(1).strip(), self.params(m.group(3)))
        self.structs = {}
        for m in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{([^}]*)\}\s*(\w+)\s*;", text):
            fields = [f.strip() for f in m.group(2).split(";") if f.strip()]
            self.structs[m.group(3)] = [self.split_decl(f) for f in fields]
        for m in re.finditer(r"(?<!typedef )\bstruct\s+(\w+)\s*\{([^}]*)\}\s*;", text):
            fields = [f.strip() for f in m.group(2).split(";") if f.strip()]
            self.structs.setdefault(m.group(1), [self.split_decl(f) for f in fields])
        self.functions = {}
        body = re.sub(r"typedef[^;]*;", " ", text)
        body = re.sub(r"\b(enum|struct)\s+\w+\s*(:\s*\w+\s*)?\{[^}]*\}\s*\w*\s*;", " ", body)
        for m in re.finditer(r"([A-Za-z_][\w\s\*]*?)\b(qmq_\w+)\s*\(([^)]*)\)\s*;", body):
            self.functions[m.group(2)] = (m.group(1).strip(), self.params(m.group(3)))

    @staticmethod
    def split_decl(decl):
        m = re.match(r"(.*?)(\w+)\s*$", decl.strip(), flags=re.S)
        return (m.group(1).strip(), m.group(2)) if m else (decl.strip(), "")

    def params(self, s):
        s = s.strip()
        if s in ("", "void"):
            return []
        return [self.split_decl(p) for p in split_top(s)]

    def kind(self, ctype):
        """Width class of a C type: (class, pointee class or None, struct name or None)."""
        t = re.sub(r"\b(const|volatile|struct|enum)\b", " ", ctype)
        t = " ".join(t.split())
        if t.endswith("*"):
            inner = t[:-1].strip()
            return ("ptr", self.kind(inner)[0], inner if inner in self.structs else None)
        if t in C_SCALARS:
            return (C_SCALARS[t], None, None)
        if t in self.enums:
            return ("32", None, None)
        if t in self.callbacks:
            return ("fnptr", None, None)
        if t in self.structs:
            return ("struct", None, t)
        return ("opaque:" + t, None, None)


# ---------------------------------------------------------------- C# side

CS_SCALARS = {
    "void": "void", "byte": "8", "sbyte": "8", "short": "16", "ushort": "16", "char": "16",
    "int": "32", "uint": "32", "float": "32", "long": "64", "ulong": "64", "double": "64",
    "IntPtr": "ptr", "UIntPtr": "ptr", "System.IntPtr": "ptr", "System.UIntPtr": "ptr",
}


def strip_cs(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


class CSharp:
    def __init__(self, dirs):
        self.imports = []    # (file, line, name, entry, attrs, ret_attrs, ret, params)
        self.delegates = {}  # name -> (ret, params)
        self.structs = {}    # name -> [field types]
        self.enums = set()
        self.unparsed = []   # [DllImport]s this script cannot read: a failure, never skipped
        for d in dirs:
            for root, _, files in os.walk(d):
                for f in sorted(files):
                    if f.endswith(".cs"):
                        self.parse(os.path.join(root, f))

    def parse(self, path):
        text = strip_cs(open(path, encoding="utf-8-sig").read())
        line_of = lambda pos: text.count("\n", 0, pos) + 1
        for m in re.finditer(r"\benum\s+(\w+)", text):
            self.enums.add(m.group(1))
        for m in re.finditer(r"\[\s*DllImport\b", text):
            imp = self.parse_import(text, m.start())
            if imp is None:
                self.unparsed.append("%s:%d" % (path, line_of(m.start())))
                continue
            imp["where"] = "%s:%d" % (path, line_of(m.start()))
            self.imports.append(imp)
        for m in re.finditer(r"\[UnmanagedFunctionPointer[^\]]*\]\s*(?:\w+\s+)*?delegate\s+([\w\.\*]+)\s+(\w+)\s*\(", text):
            close = balanced(text, m.end() - 1)
            self.delegates[m.group(2)] = (m.group(1), [self.param(p) for p in split_top(text[m.end():close])])
        for m in re.finditer(r"\[StructLayout\s*\(\s*LayoutKind\.Sequential[^\]]*\]\s*(?:\w+\s+)*?struct\s+(\w+)\s*\{", text):
            depth, i = 1, m.end()
            while depth and i < len(text):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            body = text[m.end():i - 1]
            fields = []
            for fm in re.finditer(r"((?:\[[^\]]*\]\s*)*)public\s+(?!static|const)([\w\.\*]+)\s+\w+\s*;", body):
                fields.append({"type": fm.group(2), "i1": "UnmanagedType.I1" in fm.group(1),
                               "byref": None})
            self.structs[m.group(1)] = fields

    def parse_import(self, text, pos):
        """The [DllImport] method starting at `pos`, or None if it does not parse."""
        end = balanced(text, text.index("[", pos))
        attrs = text[pos:end + 1]
        i = end + 1
        extra = ""
        while True:  # further attributes: [return: MarshalAs(...)], ...
            j = len(text) - len(text[i:].lstrip())
            if j < len(text) and text[j] == "[":
                k = balanced(text, j)
                extra += text[j:k + 1]
                i = k + 1
            else:
                i = j
                break
        m = re.compile(r"((?:\w+\s+)*?)extern\s+([\w\.\*]+)\s+(\w+)\s*\(").match(text, i)
        if not m:
            return None
        close = balanced(text, m.end() - 1)
        if not re.match(r"\s*;", text[close + 1:]):
            return None
        entry = re.search(r'EntryPoint\s*=\s*"([^"]+)"', attrs)
        return {
            "name": m.group(3), "entry": entry.group(1) if entry else m.group(3), "attrs": attrs,
            "ret_i1": bool(re.search(r"return\s*:\s*MarshalAs\s*\(\s*UnmanagedType\.I1", extra)),
            "ret": m.group(2), "params": [self.param(p) for p in split_top(text[m.end():close])],
        }

    @staticmethod
    def param(p):
        attrs = " ".join(re.findall(r"\[[^\]]*\]", p))
        rest = re.sub(r"\[[^\]]*\]", " ", p).split()
        byref = None
        if rest and rest[0] in ("out", "ref", "in"):
            byref = rest.pop(0)
        return {"type": rest[0] if rest else "?", "byref": byref, "i1": "UnmanagedType.I1" in attrs,
                "text": " ".join(p.split())}

    def kind(self, t, i1=False):
        if t.endswith("*"):
            return "ptr"
        if t == "bool":
            return "bool" if i1 else "bool-as-BOOL(4 bytes)"
        if t in CS_SCALARS:
            return CS_SCALARS[t]
        if t in self.delegates:
            return "fnptr"
        if t in self.enums:
            return "32"
        if t in self.structs:
            return "struct"
        if t == "string":
            return "string"
        return "unknown:" + t


# ---------------------------------------------------------------- comparison

def compatible(ckind, cskind):
    if ckind == cskind:
        return True
    # A C function pointer may be declared as IntPtr; a struct by value only as a struct.
    return ckind == "fnptr" and cskind == "ptr"


class Checker:
    def __init__(self, header, cs):
        self.h, self.cs, self.errors = header, cs, []

    def fail(self, where, msg):
        self.errors.append("%s: %s" % (where, msg))

    def struct_for(self, csname):
        for cand in (csname, csname[:-len("Native")] if csname.endswith("Native") else None):
            if cand and cand in self.h.structs:
                return cand
        return None

    def check_value(self, where, what, ctype, p):
        """One parameter, return value or field: C type text vs C# parameter dict."""
        ck, cpointee, cstruct = self.h.kind(ctype)
        if p["byref"]:
            # out/ref T is a pointer to T.
            if ck != "ptr":
                return self.fail(where, "%s: C `%s` is not a pointer, C# `%s` is" % (what, ctype, p["text"]))
            pk = self.cs.kind(p["type"], p["i1"])
            if pk == "struct":
                want = self.struct_for(p["type"])
                if cstruct and want != cstruct:
                    self.fail(where, "%s: C `%s` points to struct %s, C# `%s` to %s" % (what, ctype, cstruct, p["text"], p["type"]))
            elif cpointee and not compatible(cpointee, pk):
                self.fail(where, "%s: C `%s` points to %s-width, C# `%s` to %s" % (what, ctype, cpointee, p["text"], pk))
            return
        k = self.cs.kind(p["type"], p["i1"])
        if ck == "struct" or k == "struct":
            if not (ck == "struct" and k == "struct" and self.struct_for(p["type"]) == cstruct):
                self.fail(where, "%s: C `%s` vs C# `%s` (struct by value must map to the same struct)" % (what, ctype, p["text"]))
            return
        if not compatible(ck, k):
            self.fail(where, "%s: C `%s` is %s, C# `%s` is %s" % (what, ctype, ck, p["text"], k))
        elif ck == "ptr" and p["type"].endswith("*") and cpointee:
            pk = self.cs.kind(p["type"][:-1])
            if pk not in ("void", "unknown:" + p["type"][:-1]) and not compatible(cpointee, pk):
                self.fail(where, "%s: C `%s` points to %s-width, C# `%s` to %s" % (what, ctype, cpointee, p["text"], pk))

    def check_signature(self, where, cret, cparams, ret, ret_i1, params):
        if len(cparams) != len(params):
            self.fail(where, "%d parameters in C, %d in C#" % (len(cparams), len(params)))
            return
        self.check_value(where, "return", cret, {"type": ret, "byref": None, "i1": ret_i1, "text": ret})
        for i, ((ctype, cname), p) in enumerate(zip(cparams, params)):
            self.check_value(where, "parameter %d (%s)" % (i + 1, cname), ctype, p)

    def run(self):
        seen = set()
        for where in self.cs.unparsed:
            self.fail(where, "cannot parse this [DllImport] declaration")
        for imp in self.cs.imports:
            where = "%s %s" % (imp["where"], imp["name"])
            if "CallingConvention.Cdecl" not in imp["attrs"]:
                self.fail(where, "CallingConvention.Cdecl missing")
            fn = self.h.functions.get(imp["entry"])
            if fn is None:
                self.fail(where, "`%s` is not declared in the header" % imp["entry"])
                continue
            seen.add(imp["entry"])
            self.check_signature(where, fn[0], fn[1], imp["ret"], imp["ret_i1"], imp["params"])
        for name, (ret, params) in self.cs.delegates.items():
            if name in self.h.callbacks:
                cret, cparams = self.h.callbacks[name]
                self.check_signature("delegate " + name, cret, cparams, ret, False, params)
        for name, fields in self.cs.structs.items():
            cname = self.struct_for(name)
            if cname is None:
                continue
            cfields = self.h.structs[cname]
            where = "struct %s (C %s)" % (name, cname)
            if len(cfields) != len(fields):
                self.fail(where, "%d fields in C, %d in C#" % (len(cfields), len(fields)))
                continue
            for (ctype, cfname), f in zip(cfields, fields):
                f = dict(f, text=f["type"])
                self.check_value(where, "field " + cfname, ctype, f)
        return seen


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().split("\n")[-1], file=sys.stderr)
        return 2
    header, cs = CHeader(argv[1]), CSharp(argv[2:])
    if not header.functions:
        print("check-pinvoke: no functions parsed from %s" % argv[1], file=sys.stderr)
        return 2
    if not cs.imports:
        print("check-pinvoke: no [DllImport] found under %s" % " ".join(argv[2:]), file=sys.stderr)
        return 2
    checker = Checker(header, cs)
    seen = checker.run()
    unwrapped = sorted(set(header.functions) - seen)
    if unwrapped:
        print("check-pinvoke: not declared in C# (fine if unused): " + ", ".join(unwrapped))
    for e in checker.errors:
        print("check-pinvoke: FAIL " + e, file=sys.stderr)
    print("check-pinvoke: %d declarations, %d delegates, %d structs checked against %d header functions: %s"
          % (len(cs.imports), len([d for d in cs.delegates if d in header.callbacks]),
             len([s for s in cs.structs if checker.struct_for(s)]), len(header.functions),
             "%d problems" % len(checker.errors) if checker.errors else "ok"))
    return 1 if checker.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
