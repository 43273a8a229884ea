"""Schema migrations of the catalog (Alembic), one script per change, for SQLite and PostgreSQL.

``archive.catalog.Catalog.create_schema`` runs them: a new catalog is built by
running every script from the first, an existing one is upgraded in place, and
a catalog made before migrations existed (its tables made directly from the
metadata) is recognised as the baseline and upgraded from there. Scripts never
import the current table definitions: each says what its own change is, so an
old archive upgrades through the same steps a new one was built with.

A schema change adds a script in ``versions/`` (``down_revision`` names the
newest one before it); ``tests/archive/test_catalog_contract.py`` checks that
the scripts build exactly the tables ``archive.catalog`` defines.
"""
