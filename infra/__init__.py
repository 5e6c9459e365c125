"""Infrastructure: what the worker, the starter, the API and the tools share, apart from the mentorship itself.

- ``infra.settings``: ``Settings`` (every setting, from the environment or ``.env``) and ``get_settings``; also
  the values derived from them (``encryption_keys``, ``api_keys``, ``link_secrets``, ``links_enabled``,
  ``codec_cors_origins``, ``codec_allowed_hosts``, ``codec_token``), so each comma-separated setting is parsed
  in one place.
- ``infra.temporal``: connecting to Temporal (``connect``), registering the search attributes
  (``ensure_search_attributes``), and the payload limits every server the project starts is given.
- ``infra.converter``: the payload converter of every client (pydantic's, lenient for the workflow's untyped
  inputs so that it can refuse them itself).
- ``infra.encryption``: optional payload encryption (AES-256-GCM) and the data converter of every client;
  ``python -m infra.encryption new-key`` prints a fresh key.
- ``infra.codec_server``: the codec server the Temporal UI and CLI decode with (``python -m infra.codec_server``).
- ``infra.observability``: the worker's logs, metrics, traces and health endpoint.
- ``infra.links``: the signed action links in emails (HMAC-SHA256): written by the email activity, verified by
  the API.
- ``infra.process``: what every entry point shares as a process: the health probe of ``--health``
  (``probe``) and the exit past the interpreter's teardown (``exit_now``).

Dependencies point one way: ``infra`` imports ``workflows`` (the contract) and nothing of ``api``,
``activities``, ``worker`` or ``starter``; within it, ``converter`` and ``process`` import nothing of ``infra``,
``encryption`` only ``converter``, and ``settings`` only ``encryption``.
"""
