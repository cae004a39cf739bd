"""The application layer: one function per use case, shared by every entry point.

Each use case takes the `Services` and the acting `Principal` and owns the whole sequence:
permission check, validation, catalog write, sidecar, audit entry and queueing. Entry points
(JSON API, CLI, and later the ERP API, mail gateway, web client and hot folder) only parse
their input, call a use case and format its result.

Modules: `principal` (who acts, `require`), `services` (backends built from the settings),
`tasks` (task names → functions, queueing the ingest), `customers`, `intake` (receive a
document, add a version), `documents` (read, list, refile, content, preview), `search`,
`audit` (the one way a use case writes its audit entry).

Submodules are imported where they are used, so a CLI command loads only what it needs.
"""
