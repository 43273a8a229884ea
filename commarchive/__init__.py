"""The composition root: settings, the CLI and ``serve``.

The only package that chooses backends (store, index, catalog, key source) and
opens the archive (``commarchive.runtime``); it may import every other
package (keys, archive, ingest, search_api), and none of them imports it.
"""
