"""The portal's site code, imported by the Datasette plugin files in portal/plugins/ (hooks only).

Datasette loads every ``.py`` in ``--plugins-dir`` as a plugin, so the modules the hooks use live here:

- ``constants``: names and fixed tables (database name, levels, categories, tile grid);
- ``formatting``: numbers and text as pages show them (no I/O);
- ``datasette_internals``: every Datasette internal the portal touches, in one place (tested against
  the pinned version by tests/test_portal_datasette_internals.py);
- ``hotswap``: following a newly published sti.db while serving (connections, row counts);
- ``data``: the portal's in-memory data per publication (PortalData) and link helpers;
- ``pages`` / ``region`` / ``targets`` / ``figure`` ...: the routes' page handlers;
- ``renderers``: ``.csvcite``, ``.csvbom``, ``.jsoncite`` and the rounding of values in Datasette's tables;
- ``cache``: the response cache, security headers, read-only methods and the access log (ASGI).
"""
