"""The HTTP API: mentorships for services without a Temporal SDK, and the pages behind the links in emails.

- ``api.app``: the FastAPI application (``create_app``), served by uvicorn with ``python -m api``.
- ``api.links``: signed action links (HMAC-SHA256); the worker imports it to put links into emails, so it (and
  this file) must not import FastAPI.
- ``api.pages``: the small HTML pages a link opens.
"""
