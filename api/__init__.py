"""The HTTP API: mentorships for services without a Temporal SDK, and the pages behind the links in emails.

Served by uvicorn with ``python -m api`` (``api/__main__.py``). Laid out like FastAPI's full-stack template:

- ``api.main``: the application factory ``create_app`` (routers, exception handlers, the access-log middleware).
- ``api.deps``: the routes' dependencies: the settings, the Temporal client (connected on first use), the link
  secrets, the API-key check ``require_api_key``, and their ``Annotated`` aliases (``TemporalDep``, ...).
- ``api.routes``: ``mentorships`` (create, read, list, the actions; behind the API key), ``links`` (the email
  link pages, ``GET``/``POST /links/{token}``), ``health`` (``/livez``, ``/readyz``).
- ``api.errors``: ``Problem`` (every error's JSON), ``ApiError``, ``FieldError``, the exception handlers, and
  Temporal's RPC errors as HTTP statuses.
- ``api.models``: the API's own models (the list's ``MentorshipSummary`` and ``MentorshipList``, ``Health``);
  every other body is a model of the contract (``workflows/contract.py``).
- ``api.page_tokens``: the list's page tokens, sealed with a MAC over their query.
- ``api.pages``: the small HTML pages a link opens.

Temporal is reached through ``mentorship_client``, the same client as the CLI's. The signed action links
themselves (HMAC-SHA256) are ``infra.links``, shared with the worker's email activity.
"""
