"""The HTTP service of kgrec (``kgrec serve``): FastAPI routes over the facade.

See :mod:`kgrec.service.app` (why FastAPI, the request layers), ``docs/service.md``
(routes, auth, operations) and ``README.md`` (curl examples).
"""

from __future__ import annotations

from kgrec.service.app import ServeOptions, create_app, create_app_from_env

__all__ = ["ServeOptions", "create_app", "create_app_from_env"]
