"""GX's Data Docs site builder and page views, doing once per process what GX does at every build.

- GX's `DefaultJinjaView` builds a new jinja2 Environment for each view, and the site builder makes
  new views at every build: each build compiled the same ~35 templates again (~860 compilations
  for the sample's 26 pages, most of the Data Docs' cost). These views are GX's own, rendering the
  same pages, with one in-memory bytecode cache shared by their environments.
- GX's `SiteBuilder` copies the site's static files (20 files, 4 MB) at every build; this one copies
  them once per process and site folder (again if the folder has gone). Given an empty list of
  resources, it renders the index alone (GX would render the page of every stored result).

`data_docs.configure_site` names these classes in the site's configuration (GX's `class_name`,
`module_name` and `view` options), so GX itself is not patched.
"""

from __future__ import annotations

from pathlib import Path
from types import CodeType
from typing import Any

from great_expectations.render.renderer import site_builder
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2.bccache import Bucket, BytecodeCache


class CompiledTemplates(BytecodeCache):
    """The Data Docs templates compiled once per process, kept in memory.

    GX's views build a new jinja2 Environment for each page they render, so without a shared cache
    every build compiles its ~35 templates again (~860 compilations for the sample's 26 pages). The
    code is kept with its source's checksum: a changed template is compiled again.
    """

    def __init__(self) -> None:
        """An empty cache: template key -> (source checksum, compiled code)."""
        self.compiled: dict[str, tuple[str, CodeType]] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        """Give the bucket the code compiled earlier from the same source, if any."""
        found = self.compiled.get(bucket.key)
        if found is not None and found[0] == bucket.checksum:
            bucket.code = found[1]

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep a template's freshly compiled code."""
        if bucket.code is not None:
            self.compiled[bucket.key] = (bucket.checksum, bucket.code)


# Shared by the two views below only: they build their environments alike (GX's options), so code
# compiled in one is valid in the other.
TEMPLATES = CompiledTemplates()


class SharedTemplates:
    """Mixed into a GX view: its jinja2 environment gets the templates compiled once per process."""

    env: Any

    def __init__(
        self, custom_styles_directory: str | None = None, custom_views_directory: str | None = None
    ) -> None:
        """GX's view, its environment given the shared compiled templates."""
        super().__init__(custom_styles_directory, custom_views_directory)  # type: ignore[call-arg]
        self.env.bytecode_cache = TEMPLATES


class PageView(SharedTemplates, DefaultJinjaPageView):
    """GX's validation page view, its templates compiled once per process (CompiledTemplates)."""


class IndexPageView(SharedTemplates, DefaultJinjaIndexPageView):
    """GX's index page view, its templates compiled once per process (CompiledTemplates)."""


# The static folders this process has filled (GX's files, identical at every copy).
STATIC_COPIED: set[Path] = set()


class SiteBuilder(site_builder.SiteBuilder):
    """GX's site builder, copying the site's static files once per process and folder (see above)."""

    def build(self, resource_identifiers: Any = None, build_index: bool = True) -> tuple[Any, Any]:
        """GX's build (pages, static files, index), the static files copied only when not yet there.

        An empty list of resources builds no page (GX would build the page of every stored result):
        `data_docs.build_index` renders the index alone that way.
        """
        if resource_identifiers != []:
            for section_builder in self.site_section_builders.values():
                section_builder.build(resource_identifiers=resource_identifiers)
        base = getattr(self.target_store.store_backends["static_assets"], "full_base_directory", None)
        folder = Path(base, "static").resolve() if base else None
        if folder is None or folder not in STATIC_COPIED or not folder.is_dir():
            self.target_store.copy_static_assets()
            if folder is not None:
                STATIC_COPIED.add(folder)
        _, index_links = self.site_index_builder.build(build_index=build_index)
        return self.get_resource_url(only_if_exists=False), index_links
