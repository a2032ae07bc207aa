"""GX's Data Docs site builder and page views, doing once per process what GX does at every build.

- GX's `DefaultJinjaView` builds a new jinja2 Environment for each view, and the site builder makes
  new views at every build: each build compiled the same ~35 templates again (~860 compilations
  for the sample's 26 pages, most of the Data Docs' cost). These views are GX's own, rendering the
  same pages, with one in-memory bytecode cache shared by their environments.
- GX's `SiteBuilder` copies the site's static files (20 files, 4 MB) at every build; this one copies
  them once per process and site folder (again if the folder has gone). Given an empty list of
  resources, it renders the index alone (GX would render the page of every stored result).

- GX's templates load jQuery, Bootstrap and their plug-ins from public CDNs, and the logo from an
  S3 bucket with the data context's id in its address: offline, the index listed no page and the
  pages lost their icons. These views point the pages at copies served from the site itself
  (`web_assets/`, copied into `static/vendor/`): they read the same offline, and opening one sends
  nothing to a third party.

`data_docs.configure_site` names these classes in the site's configuration (GX's `class_name`,
`module_name` and `view` options), so GX itself is not patched.
"""

from __future__ import annotations

import re
import shutil
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


# The copies of what GX's templates load from the internet, shipped with cvpipeline (their sources
# and licences: web_assets/README.md), and where each page finds them in its site.
WEB_ASSETS = Path(__file__).with_name("web_assets")
VENDOR_FOLDER = "static/vendor"
LOCAL_COPIES = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper-1.12.9.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap-4.3.1.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap-4.3.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table-1.19.1.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table-1.19.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js": "bootstrap-table-filter-control-1.19.1.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css": "bootstrap-table-filter-control-1.19.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.css": "bootstrap-table-filter-control-1.19.1.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker-1.9.0.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker-1.9.0.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "bootstrap-prefers-dark-1.1.0.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "fontawesome-6.6.0/css/all.min.css"
    ),
}
# GX's images (its logo), which its site already holds in static/images/.
GX_IMAGES = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
# The chart scripts (Vega), not copied: dropped from a page that draws no chart.
CHART_SCRIPT = re.compile(r'<script src="https://cdn\.jsdelivr\.net/npm/vega[^"]*"></script>\n?')
# The dark theme's logo, a background image in GX's style sheet, not in GX's package: left out.
GX_IMAGE_IN_STYLE = re.compile(r"url\('https://great-expectations-web-assets\.s3[^']*'\)")
LOADED = re.compile(r'(<(?:script|link|img)\b[^>]*?\b(?:src|href)=")([^"]+)("[^>]*>)')
# A file of the site's static folder, however many folders up the template counted.
SITE_STATIC = re.compile(r"(?:\./|\.\./)*static/")
SRI = re.compile(r'\s+(?:integrity="[^"]*"|crossorigin="[^"]*")')


def local_assets(html: str, depth: int) -> str:
    """A rendered page loading GX's scripts, styles and images from its own site, `depth` folders up.

    Addresses with no local copy are left as they are; so are the charts' scripts of a page drawing
    a chart. The copies' integrity attributes go: a page opened from disk has no origin to check.
    Links to the site's own static files are counted again from the page's depth.
    """
    up = "../" * depth
    if "vegaEmbed(" not in html:
        html = CHART_SCRIPT.sub("", html)
    html = GX_IMAGE_IN_STYLE.sub("none", html)

    def local(match: re.Match[str]) -> str:
        url = match.group(2)
        static = SITE_STATIC.match(url)
        if static:  # GX's favicon link counts one folder short on a validation page
            return f"{match.group(1)}{up}static/{url[static.end() :]}{match.group(3)}"
        if url.startswith(GX_IMAGES):
            name = url.removeprefix(GX_IMAGES).split("?")[0]
            return f"{match.group(1)}{up}static/images/{name}{match.group(3)}"
        copy = LOCAL_COPIES.get(url)
        if copy is None:
            return match.group(0)
        return f"{match.group(1)}{up}{VENDOR_FOLDER}/{copy}{SRI.sub('', match.group(3))}"

    return LOADED.sub(local, html)


def page_depth(document: Any) -> int:
    """How many folders below its site's root GX writes a rendered document's page.

    A validation page sits under `validations/<suite, one folder per dotted part>/<run>/<time>/`;
    the index at the root (GX's own templates count the same way for its links home).
    """
    content = document if isinstance(document, dict) else vars(document)
    kind = str(content.get("renderer_type") or "")
    if "ValidationResults" in kind or "ProfilingResults" in kind:
        return str(content.get("expectation_suite_name") or "").count(".") + 4
    return 0


def copy_web_assets(site: Path) -> None:
    """Copy the pages' scripts, styles and fonts into a site's static folder."""
    shutil.copytree(
        WEB_ASSETS, site / VENDOR_FOLDER, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.md")
    )


class SharedTemplates:
    """Mixed into a GX view: templates compiled once per process, pages loading from their own site."""

    env: Any

    def __init__(
        self, custom_styles_directory: str | None = None, custom_views_directory: str | None = None
    ) -> None:
        """GX's view, its environment given the shared compiled templates."""
        super().__init__(custom_styles_directory, custom_views_directory)  # type: ignore[call-arg]
        self.env.bytecode_cache = TEMPLATES

    def render(self, document: Any, template: Any = None, **kwargs: Any) -> str:
        """GX's page, its scripts, styles and images read from the site (`local_assets`)."""
        html = super().render(document, template, **kwargs)  # type: ignore[misc]
        return local_assets(html, page_depth(document))


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
                copy_web_assets(folder.parent)
                STATIC_COPIED.add(folder)
        _, index_links = self.site_index_builder.build(build_index=build_index)
        return self.get_resource_url(only_if_exists=False), index_links
