"""GX's Data Docs page views, their jinja2 templates compiled once per process.

GX's `DefaultJinjaView` builds a new jinja2 Environment for each view, and the site builder makes new
views for every build: each page published compiled the same ~35 templates again (~860 compilations,
about 2 s, for the sample's 26 pages). These views are GX's own, rendering the same pages, with one
in-memory bytecode cache shared by their environments. `data_docs.configure_site` names them in the
site's configuration (GX's `view` option), so GX itself is not patched.
"""

from __future__ import annotations

from types import CodeType

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2.bccache import Bucket, BytecodeCache


class CompiledTemplates(BytecodeCache):
    """The Data Docs templates compiled once per process, kept in memory.

    GX's views build a new jinja2 Environment for each page they render, so without a shared cache
    every build compiles its ~35 templates again (~860 compilations for the sample's 26 pages). The
    code is kept with its source's checksum: a changed template is compiled again.
    """

    def __init__(self) -> None:
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


class PageView(DefaultJinjaPageView):
    """GX's validation page view, its templates compiled once per process (CompiledTemplates)."""

    def __init__(self, custom_styles_directory: str | None = None, custom_views_directory: str | None = None):
        super().__init__(custom_styles_directory, custom_views_directory)
        self.env.bytecode_cache = TEMPLATES


class IndexPageView(DefaultJinjaIndexPageView):
    """GX's index page view, its templates compiled once per process (CompiledTemplates)."""

    def __init__(self, custom_styles_directory: str | None = None, custom_views_directory: str | None = None):
        super().__init__(custom_styles_directory, custom_views_directory)
        self.env.bytecode_cache = TEMPLATES
