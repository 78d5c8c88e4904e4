#!/usr/bin/env python3
"""Keeps dotnet/src/Qmq/Qmq.csproj honest, since no .NET SDK can build it here.

Fails unless the csproj:
* is well-formed XML with an SDK-style root (<Project Sdk="Microsoft.NET.Sdk">);
* targets netstandard2.0, LangVersion 7.2, AllowUnsafeBlocks true, AssemblyName Qmq;
* compiles exactly the .cs files that every mcs build of Qmq.dll compiles (the source globs
  after `-out:...Qmq.dll` in ci/dotnet-tests.sh and dotnet/bench/run-bench.sh). The SDK's set
  is its default `**/*.cs` under the project folder (minus bin/ and obj/) unless
  EnableDefaultCompileItems is false, plus <Compile Include>, minus <Compile Remove>;
* packs libqmq_ffi.so under runtimes/linux-x64/native/;
* has the PackageId and Version of dotnet/Qmq.nuspec's id and version.

Usage: check-csproj.py [REPO_ROOT]   (default: the parent of this script's folder)
"""
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET

CSPROJ = "dotnet/src/Qmq/Qmq.csproj"
NUSPEC = "dotnet/Qmq.nuspec"
MCS_SCRIPTS = ["ci/dotnet-tests.sh", "dotnet/bench/run-bench.sh"]


def local(tag):
    return tag.rsplit("}", 1)[-1]


def sdk_glob(base, pattern):
    """MSBuild-style include relative to `base` (`**` recursive, `;` separated)."""
    out = set()
    for part in pattern.split(";"):
        part = part.strip().replace("\\", "/")
        if not part:
            continue
        if "$(" in part:
            raise ValueError("property in a Compile item is not supported: " + part)
        for f in glob.glob(os.path.join(base, part), recursive=True):
            if os.path.isfile(f):
                out.add(os.path.normpath(f))
    return out


def mcs_sources(root, script):
    """The source files of the mcs command in `script` that writes Qmq.dll."""
    text = open(os.path.join(root, script), encoding="utf-8").read().replace("\\\n", " ")
    cmds = [l for l in text.split("\n")
             if not l.lstrip().startswith("#") and re.search(r"-out:\S*/Qmq\.dll\b", l)]
    if len(cmds) != 1:
        raise ValueError("%s: expected one mcs command writing Qmq.dll, found %d" % (script, len(cmds)))
    srcs = [w.strip("'\"") for w in cmds[0].split() if w.strip("'\"").endswith(".cs")]
    if not srcs:
        raise ValueError("%s: the Qmq.dll mcs command names no .cs files" % script)
    out = set()
    for s in srcs:
        if "$" in s:
            raise ValueError("%s: cannot resolve %s" % (script, s))
        out |= {os.path.normpath(f) for f in glob.glob(os.path.join(root, s))}
    return out


def main(argv):
    root = os.path.abspath(argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    errors = []
    fail = errors.append
    path = os.path.join(root, CSPROJ)
    try:
        proj = ET.parse(path).getroot()
    except ET.ParseError as e:
        print("check-csproj: FAIL %s is not well-formed XML: %s" % (CSPROJ, e), file=sys.stderr)
        return 1
    if local(proj.tag) != "Project" or proj.get("Sdk") != "Microsoft.NET.Sdk":
        fail("root must be <Project Sdk=\"Microsoft.NET.Sdk\">")

    props = {}
    for pg in proj.iter():
        if local(pg.tag) == "PropertyGroup":
            for p in pg:
                if not isinstance(p.tag, str):
                    continue
                name = local(p.tag)
                if name in props and props[name] != (p.text or "").strip():
                    fail("property %s is set twice, to %r and %r" % (name, props[name], p.text))
                props[name] = (p.text or "").strip()
    want = {"TargetFramework": "netstandard2.0", "LangVersion": "7.2", "AllowUnsafeBlocks": "true",
            "AssemblyName": "Qmq"}
    for k, v in want.items():
        if props.get(k, "").lower() != v.lower():
            fail("%s is %r, expected %r" % (k, props.get(k), v))
    if "TargetFrameworks" in props:
        fail("TargetFrameworks (plural) is set: the package ships lib/netstandard2.0 only")

    # Compile items.
    base = os.path.dirname(path)
    items = [e for e in proj.iter() if local(e.tag) == "Compile"]
    compiled = set()
    if props.get("EnableDefaultCompileItems", "true").lower() != "false":
        compiled = {f for f in sdk_glob(base, "**/*.cs")
                    if not os.path.relpath(f, base).split(os.sep)[0] in ("bin", "obj")}
    try:
        for e in items:
            if e.get("Include"):
                compiled |= sdk_glob(base, e.get("Include"))
        for e in items:
            if e.get("Remove"):
                compiled -= sdk_glob(base, e.get("Remove"))
    except ValueError as e:
        fail(str(e))
    for script in MCS_SCRIPTS:
        try:
            mcs = mcs_sources(root, script)
        except (ValueError, OSError) as e:
            fail(str(e))
            continue
        rel = lambda fs: ", ".join(sorted(os.path.relpath(f, root) for f in fs))
        if compiled - mcs:
            fail("compiled by the csproj, not by the mcs build in %s: %s" % (script, rel(compiled - mcs)))
        if mcs - compiled:
            fail("compiled by the mcs build in %s, not by the csproj: %s" % (script, rel(mcs - compiled)))

    # The native library in the package.
    packed = False
    for e in proj.iter():
        if local(e.tag) in ("None", "Content") and (e.get("Include") or "").endswith("libqmq_ffi.so"):
            pack_path = (e.get("PackagePath") or "").rstrip("/")
            if e.get("Pack", "").lower() == "true" and pack_path in (
                    "runtimes/linux-x64/native", "runtimes/linux-x64/native/libqmq_ffi.so"):
                packed = True
    if not packed:
        fail("no item packs libqmq_ffi.so to runtimes/linux-x64/native/ (Pack=\"true\" PackagePath=...)")

    # Same identity as the nuspec.
    try:
        spec = ET.parse(os.path.join(root, NUSPEC)).getroot()
        meta = {local(e.tag): (e.text or "").strip() for e in spec.iter() if isinstance(e.tag, str)}
        if props.get("PackageId") != meta.get("id"):
            fail("PackageId %r differs from %s id %r" % (props.get("PackageId"), NUSPEC, meta.get("id")))
        if props.get("Version") != meta.get("version"):
            fail("Version %r differs from %s version %r" % (props.get("Version"), NUSPEC, meta.get("version")))
    except (ET.ParseError, OSError) as e:
        fail("%s: %s" % (NUSPEC, e))

    for e in errors:
        print("check-csproj: FAIL %s: %s" % (CSPROJ, e), file=sys.stderr)
    print("check-csproj: %s: %d source files, %s" % (CSPROJ, len(compiled),
                                                       "%d problems" % len(errors) if errors else "ok"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
