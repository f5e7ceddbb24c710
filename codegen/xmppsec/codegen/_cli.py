"""Command line: ``python -m codegen`` (our schemas) and ``xmppsec codegen --schema ...`` (yours).

Exit status: 0 done / up to date, 1 ``--check`` found drift, 2 usage or schema error.
"""

from __future__ import annotations

import argparse
import difflib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TextIO

from xsdata.codegen.exceptions import CodegenError

from xmppsec.codegen import EXIT_DRIFT, EXIT_OK, EXIT_USAGE
from xmppsec.codegen._compile import Job, Output, build
from xmppsec.codegen._naming import is_identifier

HEADER_MARK = b"# DO NOT EDIT"
DEFAULT_PACKAGE = "xmppsec.bindings"
UMBRELLA = "xmppsec.xsd"
IGNORED_PARTS = frozenset({"__pycache__", ".mypy_cache"})


class UsageError(Exception):
    """Bad arguments or a tree the generator refuses to touch."""


@dataclass(frozen=True)
class Plan:
    """A job plus where its output lives."""

    job: Job
    out_root: Path  # the package path (e.g. xmppsec/bindings) is below this directory
    check_root: Path  # the directory compared as a whole by --check
    docs_path: Path | None


def _is_project_root(candidate: Path) -> bool:
    return (candidate / "schemas" / UMBRELLA).is_file() and (candidate / "generated").is_dir()


def find_repo_root(start: Path) -> Path:
    """The nearest directory from ``start`` upwards holding ``schemas/xmppsec.xsd`` and
    ``generated/`` (the xmppsec source tree), else the checkout this package runs from."""
    for candidate in (start, *start.parents):
        if _is_project_root(candidate):
            return candidate
    source_checkout = Path(__file__).resolve().parents[3]
    if _is_project_root(source_checkout):
        return source_checkout
    raise UsageError(
        "not inside the xmppsec source tree (no schemas/xmppsec.xsd and generated/ found from "
        "the current directory upwards); to compile your own schema use "
        "--schema FILE.xsd --package NAME --out DIR"
    )


def default_plan(root: Path, template_dirs: tuple[Path, ...]) -> Plan:
    schema_dir = root / "schemas"
    schemas = tuple(sorted(schema_dir.glob("*.xsd")))
    if not (schema_dir / UMBRELLA).is_file():
        raise UsageError(f"no {UMBRELLA} in {schema_dir} (the umbrella schema runtime loads)")
    job = Job(
        schemas=schemas,
        package=DEFAULT_PACKAGE,
        command="python -m codegen",
        schema_root=schema_dir,
        schema_resource=f"xsd/{UMBRELLA}",
        template_dirs=template_dirs,
        docs_title="Schema reference",
    )
    generated = root / "generated"
    return Plan(job, generated, generated, root / "docs" / "reference" / "schemas.md")


def user_plan(args: argparse.Namespace, template_dirs: tuple[Path, ...]) -> Plan:
    if not args.package or not args.out:
        raise UsageError("--schema needs --package NAME and --out DIR")
    parts = args.package.split(".")
    if not all(is_identifier(p) for p in parts):
        raise UsageError(f"--package {args.package!r} is not a dotted Python name")
    schemas = tuple(Path(s).resolve() for s in args.schema)
    for schema in schemas:
        if not schema.is_file():
            raise UsageError(f"schema file not found: {schema}")
        _require_xsd(schema)
    root = Path(os.path.commonpath([s.parent for s in schemas]))
    modules: dict[str, str] = {}
    for item in args.module or ():
        ns, sep, name = item.rpartition("=")
        if not sep or not is_identifier(name):
            raise UsageError(f"--module wants NAMESPACE=module_name, got {item!r}")
        modules[ns] = name
    names = " ".join(s.name for s in schemas)
    job = Job(
        schemas=schemas,
        package=args.package,
        command=f"xmppsec codegen --schema {names} --package {args.package}",
        schema_root=root,
        template_dirs=template_dirs,
        docs_title=f"Schema reference: {args.package}",
        extra_modules=modules,
        reuse_bindings=not args.no_reuse,
    )
    out = Path(args.out).resolve()
    package_dir = out.joinpath(*parts)
    return Plan(job, out, package_dir, Path(args.docs).resolve() if args.docs else None)


XSD_ROOT = "{http://www.w3.org/2001/XMLSchema}schema"


def _require_xsd(path: Path) -> None:
    """A file that is not an XSD is the caller's mistake (exit 2), never "drift" (exit 1)."""
    from lxml import etree

    try:
        tag = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except etree.XMLSyntaxError as exc:
        raise UsageError(f"{path} is not well-formed XML, so not an XML schema: {exc}") from None
    if tag.getroot().tag != XSD_ROOT:
        raise UsageError(f"{path} is not an XML schema (its root is not xs:schema)")


def _package_dir(job: Job) -> PurePosixPath:
    return PurePosixPath(*job.package.split("."))


def write_output(plan: Plan, output: Output, out_root: Path, docs_path: Path | None) -> None:
    """Write into a fresh sibling directory, then swap it in: no stale file survives."""
    package_rel = _package_dir(plan.job)
    target = out_root.joinpath(*package_rel.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    _refuse_foreign_dir(target)
    fresh = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        for rel, data in sorted(output.package_files.items()):
            inside = rel.relative_to(package_rel)
            path = fresh.joinpath(*inside.parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            target.rename(old)
            fresh.rename(target)
            shutil.rmtree(old)
        else:
            fresh.rename(target)
    finally:
        if fresh.exists():
            shutil.rmtree(fresh)
    if docs_path is not None:
        docs_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = docs_path.with_name(f".{docs_path.name}.new-{os.getpid()}")
        tmp.write_bytes(output.docs)
        tmp.replace(docs_path)


def _refuse_foreign_dir(target: Path) -> None:
    """Never replace a directory this generator did not write (a wrong --package/--out)."""
    if not target.exists():
        return
    if not target.is_dir():
        raise UsageError(f"{target} exists and is not a directory")
    init = target / "__init__.py"
    if any(target.iterdir()) and not (init.is_file() and init.read_bytes().startswith(HEADER_MARK)):
        raise UsageError(
            f"{target} exists and was not written by the generator (no DO NOT EDIT header in "
            "its __init__.py); refusing to replace it"
        )


def _tree(root: Path) -> dict[str, bytes]:
    if not root.is_dir():
        return {}
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if IGNORED_PARTS.intersection(rel.parts) or path.suffix == ".pyc" or not path.is_file():
            continue
        found[rel.as_posix()] = path.read_bytes()
    return found


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", errors="replace").splitlines(keepends=True)


def diff_files(
    expected: Mapping[str, bytes], actual: Mapping[str, bytes], label: str
) -> list[str]:
    """Unified diffs turning ``actual`` (on disk) into ``expected`` (regenerated)."""
    out: list[str] = []
    for name in sorted(set(expected) | set(actual)):
        want, have = expected.get(name), actual.get(name)
        if want == have:
            continue
        path = f"{label}/{name}" if label else name
        left = f"a/{path}" if have is not None else "/dev/null"
        right = f"b/{path}" if want is not None else "/dev/null"
        diff = list(difflib.unified_diff(_lines(have or b""), _lines(want or b""), left, right))
        if not diff:  # differs only in bytes that decode alike
            diff = [f"--- {left}\n", f"+++ {right}\n", "binary or encoding difference\n"]
        out.extend(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in diff)
    return out


def check(plan: Plan, output: Output, stdout: TextIO) -> int:
    """Regenerate into a temporary directory and compare it with the tree on disk."""
    with tempfile.TemporaryDirectory(prefix="xmppsec-codegen-") as tmp:
        tmp_root = Path(tmp)
        tmp_docs = tmp_root / "docs.md" if plan.docs_path else None
        write_output(plan, output, tmp_root / "out", tmp_docs)
        if plan.check_root == plan.out_root:
            fresh_check = tmp_root / "out"
        else:
            fresh_check = (tmp_root / "out").joinpath(*_package_dir(plan.job).parts)
        label = _display(plan.check_root)
        diff = diff_files(_tree(fresh_check), _tree(plan.check_root), label)
        if plan.docs_path is not None and tmp_docs is not None:
            have = plan.docs_path.read_bytes() if plan.docs_path.is_file() else None
            want = tmp_docs.read_bytes()
            docs_label = _display(plan.docs_path)
            diff += diff_files({docs_label: want},
                               {docs_label: have} if have is not None else {}, "")
    if diff:
        stdout.writelines(diff)
        stdout.write(
            f"\ngenerated files are out of date: run `{plan.job.command}` and commit the result\n"
        )
        return EXIT_DRIFT
    return EXIT_OK


def _display(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def _default_prog() -> str:
    """``xmppsec codegen`` when run through the installed CLI, else ``python -m codegen``."""
    return "xmppsec codegen" if Path(sys.argv[0]).name == "xmppsec" else "python -m codegen"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or _default_prog(),
        description=(
            "Compile XML schemas into typed dataclass bindings (xsdata + xmppsec templates). "
            "Without --schema: the project's schemas/*.xsd into generated/xmppsec/bindings/ "
            "and docs/reference/schemas.md."
        ),
    )
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temporary directory and exit 1 with a unified "
                             "diff if the files on disk differ")
    parser.add_argument("--schema", action="append", metavar="FILE.xsd",
                        help="compile this schema (repeatable; its local imports follow)")
    parser.add_argument("--package", metavar="NAME",
                        help="dotted package for --schema output, e.g. mypkg.bindings")
    parser.add_argument("--out", metavar="DIR",
                        help="directory the package path is created below (for --schema)")
    parser.add_argument("--docs", metavar="FILE.md",
                        help="also render a schema reference page (for --schema)")
    parser.add_argument("--module", action="append", metavar="NAMESPACE=NAME",
                        help="module name for a namespace (for --schema; default: from the "
                             "schema file name)")
    parser.add_argument("--no-reuse", action="store_true",
                        help="(for --schema) generate classes for imported xmppsec namespaces "
                             "too, instead of importing them from xmppsec.bindings")
    parser.add_argument("--templates", action="append", metavar="DIR",
                        help="directory searched before the packaged templates (repeatable)")
    parser.add_argument("--root", metavar="DIR",
                        help="project root holding schemas/ and generated/ (default: found "
                             "from the current directory upwards)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    return parser


def run(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the generator; returns the exit status (0 ok, 1 drift under --check, 2 error)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        templates = tuple(Path(t).resolve() for t in args.templates or ())
        for tdir in templates:
            if not tdir.is_dir():
                raise UsageError(f"templates directory not found: {tdir}")
        if args.schema:
            plan = user_plan(args, templates)
        else:
            if args.package or args.out or args.docs or args.module or args.no_reuse:
                raise UsageError("--package/--out/--docs/--module/--no-reuse need --schema")
            root = Path(args.root).resolve() if args.root else find_repo_root(Path.cwd())
            plan = default_plan(root, templates)
        output = build(plan.job)
        if args.check:
            status = check(plan, output, sys.stdout)
            if status == EXIT_OK and not args.quiet:
                print(f"up to date ({time.perf_counter() - started:.1f} s)")
            return status
        write_output(plan, output, plan.out_root, plan.docs_path)
    except UsageError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CodegenError as exc:
        details = "".join(f"; {key}: {value}" for key, value in exc.meta.items())
        print(f"{parser.prog}: schema error: {exc.message}{details}", file=sys.stderr)
        return EXIT_USAGE
    if not args.quiet:
        count = sum(1 for p in output.package_files
                    if p.suffix == ".py" and p.name != "__init__.py")
        print(f"wrote {count} modules of {plan.job.package} below "
              f"{_display(plan.out_root)} ({time.perf_counter() - started:.1f} s)")
    return EXIT_OK
