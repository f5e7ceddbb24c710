"""Schemas → file contents: the pure part of the generator (no writes outside a dict).

``build(job)`` parses the XSDs with xsdata, runs xsdata's class analysis, renames what our
naming rules fix (modules, qualified attributes), renders modules with ``BindingsGenerator``
and returns every output file as bytes, keyed by its POSIX path relative to the output root.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from lxml import etree
from xsdata.codegen.exceptions import CodegenError
from xsdata.codegen.models import Class
from xsdata.codegen.transformer import ResourceTransformer
from xsdata.exceptions import ConverterError, ParserError
from xsdata.models.config import (
    DocstringStyle,
    GeneratorConfig,
    OutputFormat,
    StructureStyle,
)

from xmppsec.codegen._generator import TEMPLATES, BindingsGenerator, pystr
from xmppsec.codegen._index import SchemaFile, namespaces, read_schemas
from xmppsec.codegen._naming import (
    WELL_KNOWN_MODULES,
    is_identifier,
    module_for_file,
    qualified_attribute_field,
)

MAX_LINE_LENGTH = 99
SHIPPED_PACKAGE = "xmppsec.bindings"
SCHEMA_DIR = "xsd"


@dataclass(frozen=True)
class Job:
    """What to compile and how to name it.

    ``schemas``: the XSD files given (their local imports/includes are followed).
    ``package``: dotted package the modules go into (``xmppsec.bindings``).
    ``command``: shown in the ``DO NOT EDIT`` header of every generated file.
    ``schema_root``: directory the copied XSDs are made relative to (layout kept below ``xsd/``).
    ``schema_resource``: the XSD a validator should load, relative to the package, if any.
    ``reuse_bindings``: classes of a namespace xmppsec ships bindings for, compiled from the very
    same XSD, are imported from ``xmppsec.bindings`` instead of being generated again.
    """

    schemas: tuple[Path, ...]
    package: str
    command: str
    schema_root: Path
    schema_resource: str | None = None
    template_dirs: tuple[Path, ...] = ()
    docs_title: str = "Schema reference"
    extra_modules: Mapping[str, str] = field(default_factory=dict)
    reuse_bindings: bool = False


@dataclass(frozen=True)
class Output:
    """Rendered files: ``package_files`` relative to the output root, plus the docs page."""

    package_files: dict[PurePosixPath, bytes]
    docs: bytes
    modules: dict[str, str]


class _LocalOnlyTransformer(ResourceTransformer):
    """xsdata's transformer restricted to local files: codegen never fetches a schema."""

    def load_resource(self, uri: str) -> bytes | None:
        if urlparse(uri).scheme != "file":
            raise CodegenError("Only local schema files are compiled", uri=uri)
        if uri in self.processed:
            return None
        path = _uri_path(uri)
        if not path.is_file():
            raise CodegenError("Schema file not found", path=str(path))
        self.processed.append(uri)
        return path.read_bytes()


def _uri_path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


def make_config(package: str) -> GeneratorConfig:
    config = GeneratorConfig()
    config.output.package = package
    config.output.structure_style = StructureStyle.NAMESPACES
    config.output.docstring_style = DocstringStyle.BLANK
    config.output.compound_fields.enabled = True
    config.output.max_line_length = MAX_LINE_LENGTH
    config.output.format = OutputFormat(value="dataclasses", slots=True)
    config.output.include_header = False
    # xsdata turns any pattern-restricted type into str (losing bytes for base64Binary, dates);
    # patterns are the XSD validator's job here, the bindings keep the base type.
    config.output.ignore_patterns = True
    return config


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _walk(classes: Sequence[Class]) -> Iterator[Class]:
    for obj in classes:
        yield obj
        yield from _walk(obj.inner)


def _module_names(files: Sequence[SchemaFile], extra: Mapping[str, str]) -> dict[str, str]:
    """Target namespace → module name, for every namespace that declares a component."""
    result: dict[str, str] = {}
    for ns, schemas in namespaces(files).items():
        key = ns or ""
        name = extra.get(key) or WELL_KNOWN_MODULES.get(key)
        if name is None:
            name = module_for_file(PurePosixPath(schemas[0].label).stem)
        result[key] = name
    taken: dict[str, str] = {}
    for ns, name in sorted(result.items()):
        if not is_identifier(name):
            raise CodegenError("Module name is not an identifier", namespace=ns, module=name)
        if name in taken:
            raise CodegenError("Two namespaces map to one module", module=name,
                               namespaces=[taken[name], ns])
        taken[name] = ns
    return result


def _rename_qualified_attributes(classes: Sequence[Class], modules: Mapping[str, str]) -> None:
    """Apply the qualified-attribute rule: ``{ns}local`` → ``<module(ns)>_<local>``."""
    for obj in _walk(classes):
        for attr in obj.attrs:
            if attr.is_attribute and attr.namespace and not attr.is_wildcard:
                module = modules.get(attr.namespace) or module_for_file(attr.namespace)
                attr.name = qualified_attribute_field(module, attr.local_name)
        seen: dict[str, str] = {}
        for attr in obj.attrs:
            if attr.name in seen:
                raise CodegenError("Two fields get the same name", cls=obj.qname,
                                   field=attr.name, first=seen[attr.name], second=attr.qname)
            seen[attr.name] = attr.qname


def _sources(files: Sequence[SchemaFile]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for ns, schemas in namespaces(files).items():
        grouped[ns or ""] = [s.label for s in schemas]
    return grouped


def attribute_constant(local_name: str) -> str:
    """Constant name for a global attribute: ``mustUnderstand`` → ``ATTR_MUST_UNDERSTAND``."""
    return "ATTR_" + qualified_attribute_field("x", local_name)[2:].upper()


def _global_attributes(files: Sequence[SchemaFile]) -> dict[str, list[dict[str, str]]]:
    """Per namespace: constants for its global attributes (``ATTR_ID = "{ns}id"``)."""
    result: dict[str, list[dict[str, str]]] = {}
    for schema in files:
        for comp in schema.of_kind("attribute"):
            ns = schema.namespace or ""
            qname = f"{{{ns}}}{comp.name}" if ns else comp.name
            const = attribute_constant(comp.name)
            result.setdefault(ns, []).append({"const": const, "qname": qname, "doc": comp.doc})
    return result


def _element_classes(classes: Sequence[Class], gen: BindingsGenerator) -> dict[str, str]:
    """``{ns}name`` of a global element or type → dotted Python class path."""
    found: dict[str, str] = {}
    for obj in classes:
        if obj.local_type:
            continue
        path = f"{obj.target_module}.{gen.filters.class_name(obj.name)}"
        key = f"{obj.tag}:{obj.qname}"
        found.setdefault(key, path)
    return found


def _reusable(
    files: Sequence[SchemaFile], classes: Sequence[Class], gen_class_name: Any
) -> dict[str, str]:
    """Namespaces that ``xmppsec.bindings`` already binds, from byte-identical XSDs.

    A namespace qualifies when every schema file declaring it equals the copy shipped in
    ``xmppsec.bindings/xsd/`` and every class compiled for it exists in the shipped module.
    """
    try:
        shipped = resources.files(SHIPPED_PACKAGE).joinpath(SCHEMA_DIR)
    except ModuleNotFoundError:
        return {}
    found: dict[str, str] = {}
    for ns, schemas in namespaces(files).items():
        key = ns or ""
        module_name = WELL_KNOWN_MODULES.get(key)
        if module_name is None:
            continue
        same = all(
            shipped.joinpath(schema.path.name).is_file()
            and shipped.joinpath(schema.path.name).read_bytes() == schema.path.read_bytes()
            for schema in schemas
        )
        if not same:
            continue
        try:
            module = importlib.import_module(f"{SHIPPED_PACKAGE}.{module_name}")
        except ImportError:
            continue
        exported = set(getattr(module, "__all__", ()))
        wanted = {gen_class_name(obj.name) for obj in classes if obj.target_namespace == ns}
        if wanted <= exported:
            found[key] = module_name
    return found


def _read_index(paths: Sequence[Path], root: Path) -> list[SchemaFile]:
    try:
        return read_schemas(paths, root)
    except etree.XMLSyntaxError as exc:
        raise CodegenError("Schema file is not well-formed XML", error=str(exc)) from None


def build(job: Job) -> Output:
    # Well-formedness first, with lxml's precise message (xsdata's parser is lenient).
    _read_index(job.schemas, job.schema_root)
    config = make_config(job.package)
    transformer = _LocalOnlyTransformer(config)
    uris = [p.resolve().as_uri() for p in sorted(set(job.schemas))]

    collector = _WarningCollector()
    xsdata_logger = logging.getLogger("xsdata")
    xsdata_logger.addHandler(collector)
    previous_propagate = xsdata_logger.propagate
    xsdata_logger.propagate = False
    try:
        transformer.process_sources(uris)
        classes = transformer.analyze_classes(transformer.classes)
    except (ParserError, ConverterError) as exc:
        raise CodegenError("xsdata could not read a schema", error=str(exc)) from None
    finally:
        xsdata_logger.removeHandler(collector)
        xsdata_logger.propagate = previous_propagate
    if collector.messages:
        raise CodegenError("xsdata reported problems", details="; ".join(collector.messages))

    files = _read_index([_uri_path(u) for u in transformer.processed], job.schema_root)
    modules = _module_names(files, job.extra_modules)
    filters = BindingsGenerator.init_filters(config)
    reused = _reusable(files, classes, filters.class_name) if job.reuse_bindings else {}
    for obj in classes:
        ns = obj.target_namespace or ""
        if ns not in modules:
            raise CodegenError("Class outside every indexed namespace", cls=obj.qname)
        package = SHIPPED_PACKAGE if ns in reused else job.package
        module = reused.get(ns) or modules[ns]
        for inner in _walk([obj]):
            inner.package = package
            inner.module = module
    _rename_qualified_attributes(classes, modules)
    qualified = {
        ns: f"{SHIPPED_PACKAGE}.{reused[ns]}" if ns in reused else f"{job.package}.{name}"
        for ns, name in modules.items()
    }
    local_modules = {ns: name for ns, name in modules.items() if ns not in reused}

    sources = _sources(files)
    constants = _global_attributes(files)
    package_context: dict[str, Any] = {
        "schema_resource": job.schema_resource,
        "namespace_modules": sorted(qualified.items(), key=lambda kv: kv[1]),
    }
    gen = BindingsGenerator(
        config,
        command=job.command,
        sources=sources,
        package_context=package_context,
        template_dirs=job.template_dirs,
        modules=local_modules,
        constants=constants,
        external_package=SHIPPED_PACKAGE if reused else None,
    )
    gen.normalize_packages(classes)

    out: dict[PurePosixPath, bytes] = {}
    for result in gen.render(classes):
        out[PurePosixPath(result.path.as_posix())] = result.source.encode("utf-8")
    package_dir = PurePosixPath(*job.package.split("."))
    out[package_dir / "py.typed"] = b""
    for schema in files:
        out[package_dir / SCHEMA_DIR / schema.label] = schema.path.read_bytes()
    if job.schema_resource and (package_dir / job.schema_resource) not in out:
        raise CodegenError("Schema resource is not among the compiled schemas",
                           resource=job.schema_resource)

    docs = render_docs(job, files, qualified, _element_classes(classes, gen))
    return Output(out, docs, qualified)


def render_docs(
    job: Job,
    files: Sequence[SchemaFile],
    modules: Mapping[str, str],  # namespace → dotted module path
    classes: Mapping[str, str],
) -> bytes:
    env = Environment(
        loader=FileSystemLoader([*map(str, job.template_dirs), str(TEMPLATES)]),
        autoescape=False,  # noqa: S701 - markdown output, not HTML
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pystr"] = pystr
    env.filters["md"] = _markdown_cell
    env.filters["attr_const"] = attribute_constant
    groups = sorted(namespaces(files).items(), key=lambda kv: modules[kv[0] or ""])
    text = env.get_template("schemas.md.jinja2").render(
        title=job.docs_title,
        command=job.command,
        package=job.package,
        groups=[
            {"namespace": ns, "module": modules[ns or ""], "files": group}
            for ns, group in groups
        ],
        all_files=files,
        classes=classes,
    )
    return text.encode("utf-8")


def _markdown_cell(text: str) -> str:
    """Make text safe inside a markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")
